from django.contrib import admin

from backoffice.admin import MirrorAdmin
from contacts.models import Contact


@admin.register(Contact)
class ContactAdmin(MirrorAdmin):
    list_display = ("handle", "full_name", "organization", "country", "email", "tld", "account",
                    "split_from")
    list_select_related = ("tld", "account", "split_from")
    list_filter = ("tld", "country")
    # Matches the upstream's `q`: handle, organisation, full name, registration name.
    search_fields = ("handle", "organization", "first_name", "last_name", "email",
                     "owner_of__name")
    search_help_text = "Handle, organisation, name, e-mail or a registration it backs."
