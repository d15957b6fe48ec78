"""The hostile values, by kind: each must be refused wherever a value of that kind is
taken in. `ACCEPTED` holds tricky values that are valid, with the canonical form they
must be stored and sent in: refusing them would be a bug too.

Kinds follow registrar/values/: names, addresses, phones, countries, currencies,
amounts, dates, text, emails, plus ids (path ids, bulk selections) and numbers (filter and
command integers).
"""

from __future__ import annotations

# --- free text -------------------------------------------------------------------------
C0 = [chr(code) for code in range(0x00, 0x20) if chr(code) not in "\t\n\r"]
C1 = [chr(code) for code in range(0x7F, 0xA0)]
BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068",
        "\u2069"]
TEXT = (
    [f"Ann{char}e" for char in C0]                       # 29
    + [f"Ann{char}e" for char in C1]                     # 33
    + [f"Ann{char}e" for char in BIDI]                   # 9
    + ["Ann\ud800e", "\udfff", "Ann\ufffe", "\uffff",    # surrogates, non-characters
       "line\nbreak", "tab\there", "cr\rhere",          # single-line fields
       "evil\u202egnp.exe", "\u202eRTL override at the start",
       "x" * 101, "y" * 256, "z" * 10_000]
)

# --- domain and host names -------------------------------------------------------------
NAMES = [
    "192.0.2.1", "1.2.3.4", "10.0.0.1", "127.0.0.1", "0.0.0.0", "255.255.255.255",  # noqa: S104
    "example.123", "[2001:db8::1]", "2001:db8::1", "::1", "1.2.3.4.5", "0x7f.0.0.1",
    "<script>alert(1)</script>.com", "exa<b>mple.com", "exam\x00ple.com", "exam\nple.com",
    "example..com", "..", ".", "-example.com", "example-.com", "ex_ample.com",
    "exa mple.com", "example.com/path", "http://example.com", "user@example.com",
    "example.com:80", "a" * 64 + ".com", ("a" * 63 + ".") * 4 + "com", "xn--.com",
    "xn--zz.com", "ab--cd.com", "exam\u200bple.com", "exam\u200dple.com",
    "exam\u00adple.com", "\ufeffexample.com", "exam\u2060ple.com", "example.c",
    "example", "com", "p\u0430ypal.com", "g\u03bfogle.com", "\u0430pple.com",
    "exam\u202eple.com", "\U0001f600.com", "example.com\u3002\u3002", "example.\u00e9",
    "%2e%2e/etc", "example.com;rm -rf", "'; DROP TABLE registrar_registration;--.com",
    "\ud800.com", "", "   ",
]
ACCEPTED_NAMES = {"EXAMPLE.COM": "example.com", "münchen.de": "xn--mnchen-3ya.de",
                  "example.com.": "example.com", "example\u3002com": "example.com",
                  "ＥＸＡＭＰＬＥ.com": "example.com"}

# --- IP addresses (glue) ---------------------------------------------------------------
ADDRESSES = [
    "192.0.2.0/24", "2001:db8::/32", "fe80::1%eth0", "::ffff:192.0.2.1", "01.2.3.4",
    "1.2.3", "1.2.3.4.5", "256.1.1.1", "0x7f.0.0.1", "0177.0.0.1", "1.2.3.-4", "::g",
    "1:2:3:4:5:6:7:8:9", "127.0.0.1", "::1", "0.0.0.0", "::", "224.0.0.1", "ff02::1",  # noqa: S104
    "169.254.1.1", "fe80::1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1",
    "fd00::1", "198.18.0.1", "240.0.0.1", "0.1.2.3", "example.com", "1.2.3.4 5.6.7.8",
    "1.2.3.4\x00", "\u0661.\u0662.\u0663.\u0664",
]
ACCEPTED_ADDRESSES = {"192.0.2.10": "192.0.2.10", "2001:DB8::0:1": "2001:db8::1",
                      " 198.51.100.7 ": "198.51.100.7"}

# --- phone numbers ---------------------------------------------------------------------
PHONES = [
    "", "   ", "31201234567", "0201234567", "+31", "+31.", "+0.201234567", "+999.1234567",
    "+31.2012345678901234", "+31 20 CALL ME", "+1-555-CALL", "+31.20123\x004567",
    "+31.201234567 ext 5", "+" + "9" * 70, "tel:+31201234567", "+31.20\u202e1234567",
]
ACCEPTED_PHONES = {"+31 20 123 4567": "+31.201234567", "+31.201234567": "+31.201234567",
                   "+1 (201) 555-0123": "+1.2015550123",
                   # Arabic-Indic digits are digits: phonenumbers reads them as 0-9.
                   "+\u0663\u0661.\u0662\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667":
                       "+31.201234567"}

# --- countries -------------------------------------------------------------------------
COUNTRIES = ["", "nl", "Nl", "NLD", "N", "XX", "UK", "EU", "ZZ", "N\u0307L", "Ｎ Ｌ",
             "\u0274\u029f", "NL\x00", "00", "1", "<b>", "AA"]

# --- currencies ------------------------------------------------------------------------
CURRENCIES = ["USA", "eur", "Eur", "EURO", "EU", "E", "", "XXX", "XAU", "XTS", "XDR",
              "€", "$", "US$", "E\x00R", "ЕUR", "123", "   "]

# --- money amounts ---------------------------------------------------------------------
AMOUNTS = ["-1", "-0.01", "1e9", "1E3", "NaN", "nan", "inf", "-inf", "Infinity", "4,99",
           "4.999", "0x10", "١٢", "1_000", " ", "", "1.2.3", str(2**63), str(2**64),
           "9" * 21, "99999999999999.99", "+5", "5-"]
ACCEPTED_AMOUNTS = {"4.99": 499, "0": 0, "12": 1200, "0.5": 50}

# --- dates -----------------------------------------------------------------------------
DATES = ["9999-12-31", "9999-12-31T23:59:59Z", "0001-01-01", "1999-12-31", "2026-02-30",
         "2026-13-01", "2026-00-10", "+10000-01-01", "now", "yesterday",
         "2026-12-01T25:00:00Z", "2026-12-01T10:00:00+25:00", "1e10", "-1",
         "２０２６-１２-０１", "2026-12-01\x00"]

# --- e-mail addresses -----------------------------------------------------------------
EMAILS = ["", "plain", "@example.com", "ann@", "ann@@example.com", "ann @example.com",
          "ann@example..com", "ann@192.0.2.1", "ann@[192.0.2.1]x", "ann\x00@example.com",
          "ann\u202e@example.com", "ann@exam\u200bple.com", "<ann@example.com>",
          "ann@example.com, bob@example.com", "a" * 250 + "@example.com",
          "ann@exa\nmple.com", "ann@-example.com"]

# --- ids and numbers -------------------------------------------------------------------
IDS = ["abc", "-1", "0", "1.0", "1e3", " 1", "1 ", "+1", "0x10", "١", "9" * 400,
       str(2**63), str(2**64), "1;DROP", "%00", "1%2F2", "null", "None", "[]", "{}"]
NUMBERS = ["abc", "-1", "1.5", "1e3", "9" * 400, str(2**63), "١", "NaN", "", " "]

ALL: dict[str, list[str]] = {
    "text": TEXT, "names": NAMES, "addresses": ADDRESSES, "phones": PHONES,
    "countries": COUNTRIES, "currencies": CURRENCIES, "amounts": AMOUNTS, "dates": DATES,
    "emails": EMAILS, "ids": IDS, "numbers": NUMBERS,
}


def count() -> int:
    return sum(len(values) for values in ALL.values())
