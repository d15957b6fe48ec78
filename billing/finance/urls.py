from django.urls import path

from billing.finance import views_orders, views_reports

app_name = "finance"

urlpatterns = [
    path("", views_orders.order_list, name="orders"),
    path("orders.csv", views_orders.order_export, name="orders_csv"),
    path("revenue.svg", views_reports.revenue_chart, name="revenue_chart"),
    path("orders/<int:pk>/", views_reports.order_detail, name="order"),
    path("attention/", views_reports.needs_attention, name="attention"),
]
