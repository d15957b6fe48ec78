from django import forms

from backoffice.forms import TextRuleForm


class CodeForm(TextRuleForm, forms.Form):
    code = forms.CharField(
        label="Code", max_length=32, strip=True,
        help_text="The 6-digit code your authenticator app shows now, or one of your "
                  "backup codes.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True,
                                      "autocapitalize": "off", "spellcheck": "false"}),
    )

    def clean_code(self) -> str:
        return self.cleaned_data["code"].replace(" ", "").replace("-", "")


class TotpConfirmForm(TextRuleForm, forms.Form):
    code = forms.CharField(
        label="Code from the app", max_length=8, strip=True,
        help_text="The 6-digit code the app shows for this account once it is added.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True,
                                      "inputmode": "numeric"}),
    )

    def clean_code(self) -> str:
        code = self.cleaned_data["code"].replace(" ", "")
        if not code.isdigit():
            raise forms.ValidationError("Code from the app: enter the 6 digits the app shows.")
        return code


class ResetForm(TextRuleForm, forms.Form):
    """Resetting someone's second factor is high-risk: a fresh code of one's own."""

    code = forms.CharField(
        label="Your code", max_length=32, strip=True, required=False,
        help_text="A code from your own authenticator app (or a backup code), to confirm.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code"}),
    )
