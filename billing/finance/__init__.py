"""The finance area under /finance/: order review, totals, exports, reports.

Pages use the admin's look (templates extend admin/base_site.html) and the admin's
login, and need `billing.view_finance`. They only read: nothing here calls upstream.
"""
