from django.conf import settings


def second_factor(request) -> dict:
    """For the banner on every page when the demo runs without second factors."""
    return {"second_factor_off": not settings.STAFF_MFA_REQUIRED}
