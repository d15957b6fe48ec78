"""The scale benchmark's data set, written by PostgreSQL itself (generate_series), not by
the ORM: registrations over 200 TLDs, contacts in their four roles, customer accounts,
orders in nine currencies with their items and ledger entries, registrar processes and
the audit trail.

`load(size)` fills the tables for `size` registrations (contacts size/10, accounts
size/20, orders and audit rows size each, processes size/20) and records what it loaded
in the table `bench_scale_meta`, so that a later run with the same size reuses it.

Every value comes from a hash of the row number: the same size gives the same rows. The
IDN labels (a few percent) and the rare names are made in Python, through the project's
own to_ascii/to_unicode, since PostgreSQL has no punycode; the database joins them in.
"""

# ruff: noqa: S608 - the loader's SQL is built from its own constants, never input

from __future__ import annotations

import time
from dataclasses import dataclass

from django.db import connection

META_TABLE = "bench_scale_meta"
#: The loader's own version: a change to the data set below makes older loads stale.
DATA_VERSION = 3

# -- words ------------------------------------------------------------------------------

WORDS = list(dict.fromkeys("""
shop bakery garden studio travel coffee market design media cloud digital green smart
home house city music photo food fresh wine beer pizza sushi burger yoga fitness sport
bike auto car motor boat sail surf beach mountain river lake forest park farm flower
fashion style beauty hair nail spa dental clinic health care pet dog cat vet horse
book books library school academy learn kids baby toys game games play fun party event
wedding love gift gifts art craft wood stone metal glass paper print press news blog
web net tech data code dev app apps soft labs lab works factory tools build home plus
pro expert consult legal law tax money finance bank invest capital trade export global
world euro north south east west central united royal golden silver blue red black white
star sun moon sky rain snow ice fire water wind energy solar power light lamp electric
hotel hostel resort villa rent estate property land view vision focus pixel frame film
cinema theatre stage dance song radio voice sound audio video stream live online direct
best top prime first next new old classic modern urban rural local family friends team
group club union partner service support repair clean fix move cargo transport logistics
""".split()))  # noqa: SIM905 - a paragraph of words reads better than a list

# Latin-script words with letters outside ASCII: each stands alone or joins an ASCII word.
IDN_LATIN = ["münchen", "köln", "düsseldorf", "zürich", "bäckerei", "café", "grün",
             "schön", "müller", "straße", "öko", "français", "españa", "niño", "são",
             "łódź", "kraków", "größe", "fähre", "käse", "blüte", "brücke", "señor",
             "crème", "égypte"]
# Other scripts: never mixed with a Latin word (registries refuse mixed-script labels).
IDN_OTHER = ["東京", "寿司", "москва", "книги", "αθήνα", "日本", "ресторан", "مصر"]

FIRST_NAMES = [("Anna", "anna"), ("Lukas", "lukas"), ("Jürgen", "juergen"),
               ("Zoë", "zoe"), ("Björn", "bjoern"), ("Maria", "maria"), ("John", "john"),
               ("Emma", "emma"), ("Liam", "liam"), ("Sofia", "sofia"), ("Noah", "noah"),
               ("Mia", "mia"), ("Elena", "elena"), ("Pierre", "pierre"),
               ("José", "jose"), ("Yuki", "yuki"), ("Chen", "chen"), ("Fatima", "fatima"),
               ("Olga", "olga"), ("Jan", "jan"), ("Sara", "sara"), ("David", "david"),
               ("Laura", "laura"), ("Max", "max"), ("Ingrid", "ingrid"), ("Paul", "paul"),
               ("Chloé", "chloe"), ("Ahmed", "ahmed"), ("Priya", "priya"), ("Tom", "tom")]
LAST_NAMES = [("Müller", "mueller"), ("Schmidt", "schmidt"), ("Schneider", "schneider"),
              ("Fischer", "fischer"), ("Weber", "weber"), ("Smith", "smith"),
              ("Johnson", "johnson"), ("Brown", "brown"), ("García", "garcia"),
              ("Martínez", "martinez"), ("Rossi", "rossi"), ("Dubois", "dubois"),
              ("Nguyen", "nguyen"), ("Kowalski", "kowalski"), ("Jansen", "jansen"),
              ("de Vries", "devries"), ("Tanaka", "tanaka"), ("Wang", "wang"),
              ("Ivanova", "ivanova"), ("Novák", "novak"), ("Andersson", "andersson"),
              ("O'Brien", "obrien"), ("Hoffmann", "hoffmann"), ("Wagner", "wagner"),
              ("Becker", "becker"), ("Lefèvre", "lefevre"), ("Costa", "costa"),
              ("Yılmaz", "yilmaz"), ("Kim", "kim"), ("Patel", "patel")]  # noqa: RUF001
MAIL_DOMAINS = ["example.com", "example.net", "example.org", "mail.example", "post.example",
                "web.example", "inbox.example"]
COMPANY_SUFFIXES = ["GmbH", "Ltd", "B.V.", "Inc.", "SARL", "AG", "LLC", "& Co.", "Oy", "AB"]
COUNTRIES = ["DE", "US", "GB", "NL", "FR", "ES", "IT", "AT", "CH", "PL", "SE", "JP", "CN",
             "BR", "CA", "AU", "BE", "DK", "NO", "FI"]

# The most sold TLDs first: a registration's TLD is drawn with a skew towards the start.
_COMMON_TLDS = ["com", "net", "org", "de", "nl", "uk", "eu", "info", "io", "co", "ch", "at",
                "fr", "be", "it", "es", "shop", "online", "store", "app", "dev", "xyz",
                "biz", "me", "tv", "us", "ca", "jp", "se", "pl", "xn--p1ai", "xn--wgbh1c",
                "xn--80asehdb"]
_MORE_TLDS = """
dk fi no cz sk hu pt gr ro bg hr si lt lv ee ie is lu li mc sm va ad mt cy tr ua by
md ge am az kz uz in cn hk tw kr sg my th vn id ph au nz za ng ke eg ma tn br ar cl mx
pe uy ve cr pa do cu gt hn sv ni bo py ec cloud blog site website space tech digital
media studio design photo art music news live world life today email company solutions
services agency consulting expert guru ninja rocks social team center city club
community events fitness fun games golf guide health house land legal money network
partners plus pro academy school education bike camp care cafe coffee pizza restaurant
bar beer wine travel tours holiday hotel flights taxi car auto cars garden green
energy solar eco farm pet pets vet dental clinic doctor law tax finance bank capital
fund invest market markets trade sale deals gift gifts toys baby kids family love
wedding dating fashion style beauty hair spa yoga
""".split()  # noqa: SIM905
TLD_NAMES = list(dict.fromkeys(_COMMON_TLDS + _MORE_TLDS))[:200]

#: Names searched for by the benchmark: each appears exactly once (a support call about
#: one domain), and "quokka" in these three names only.
RARE_NAMES = ["zephyr-quokka.com", "quokka-lighthouse.de", "quokkaworks.net"]
RARE_NAME = RARE_NAMES[0]
#: Currencies and their share of orders (and their minor units, for realistic totals).
CURRENCIES = [("USD", 40, 2), ("EUR", 30, 2), ("GBP", 8, 2), ("JPY", 5, 0), ("CHF", 5, 2),
              ("CAD", 4, 2), ("AUD", 4, 2), ("SEK", 3, 2), ("KWD", 1, 3)]

TABLES = [  # emptied by a reload, children first; CASCADE takes what else refers to them
    "backoffice_staffaction", "billing_ledgerentry", "billing_orderitem",
    "billing_webhookevent", "billing_order", "registrar_processlogentry", "registrar_process",
    "registrar_dnsseckey", "registrar_hostaddress", "registrar_host", "registrar_approval",
    "backoffice_note", "registrar_registration", "contacts_contact", "billing_account",
    "registrar_tld", "registrar_provideraccount",
]


@dataclass(frozen=True)
class Sizes:
    registrations: int
    contacts: int
    accounts: int
    orders: int
    audit: int
    processes: int
    tlds: int

    @classmethod
    def for_registrations(cls, size: int) -> Sizes:
        return cls(registrations=size, contacts=max(20, size // 10),
                   accounts=max(10, size // 20), orders=size, audit=size,
                   processes=max(10, size // 20), tlds=len(TLD_NAMES))


def _check_words() -> None:
    """Two word pairs must never spell the same label ("arts"+"hop", "art"+"shop"), so
    that every row number gives its own name."""
    assert len(set(WORDS)) == len(WORDS), "a word is listed twice"
    seen: set[str] = set()
    for first in WORDS:
        for second in WORDS:
            label = first + second
            assert label not in seen, f"two word pairs spell {label}"
            seen.add(label)


# -- the rows made in Python (IDN labels, rare names, TLDs) ------------------------------

def _override_rows(sizes: Sizes) -> list[tuple[int, str, str, int | None]]:
    """(row number, ASCII label or full name, Unicode form, TLD id or None) for the rows
    whose name is not two dictionary words: every 29th row an IDN, and the rare names."""
    from registrar.values.names import to_ascii, to_unicode

    rows: dict[int, tuple[int, str, str, int | None]] = {}
    size = sizes.registrations
    latin, other = len(IDN_LATIN), len(IDN_OTHER)
    for n in range(7, size, 29):
        j = n // 29
        if j % 5 == 4:  # one IDN in five in another script, with a number to tell them apart
            label = f"{IDN_OTHER[(j // 5) % other]}{j}"
        else:
            k = (j // 5) * 4 + j % 5
            word, ascii_word = IDN_LATIN[k % latin], WORDS[(k // latin) % len(WORDS)]
            number = str(k // (latin * len(WORDS)) or "")
            label = (f"{word}{ascii_word}{number}", f"{word}-{ascii_word}{number}",
                     f"{ascii_word}{word}{number}")[(k // 7) % 3]
        ascii_label = to_ascii(label, min_labels=1)
        rows[n] = (n, ascii_label, to_unicode(ascii_label), None)
    labels = [row[1] for row in rows.values()]
    assert len(set(labels)) == len(labels), "two IDN rows spell the same label"
    tld_ids = {name: index + 1 for index, name in enumerate(TLD_NAMES)}
    for index, name in enumerate(RARE_NAMES):
        n = min(size - 1, size * (index + 1) // 4 + 3)
        while n in rows:
            n += 1
        label, _, tld = name.partition(".")
        rows[n] = (n, label, label, tld_ids[tld])
    return sorted(rows.values())


def _tld_rows() -> list[tuple[int, str, str]]:
    from registrar.values.names import to_unicode

    return [(index + 1, name, to_unicode(name)) for index, name in enumerate(TLD_NAMES)]


# -- SQL ----------------------------------------------------------------------------------

def _array(values: list[str]) -> str:
    quoted = ", ".join("'" + value.replace("'", "''") + "'" for value in values)
    return f"ARRAY[{quoted}]::text[]"


# A uniform number in [0, 1) from a row number and a salt: deterministic, and inlined.
_FUNCTIONS = """
CREATE OR REPLACE FUNCTION pg_temp.u(n bigint, salt int) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT (hashint8(n * 1009 + salt)::bigint + 2147483648) / 4294967296.0 $$
"""


def _filler(model, given: set[str]) -> tuple[list[str], list[str], list]:
    """Columns a migration added after this loader was written: NOT NULL ones get their
    model default, so a new field does not stop the benchmark."""
    columns, values, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.column in given or field.null or field.primary_key:
            continue
        default = field.get_default()
        columns.append(f'"{field.column}"')
        values.append("%s")
        params.append(field.get_db_prep_save(default, connection))
    return columns, values, params


def _insert(cursor, model, columns: dict[str, str], source: str, label: str = "") -> float:
    """INSERT INTO model's table (columns...) SELECT expressions FROM source."""
    extra_columns, extra_values, extra_params = _filler(model, set(columns))
    names = [f'"{column}"' for column in columns] + extra_columns
    # The expressions hold no parameters (a literal % is the modulo operator); the
    # fillers' values are the only ones passed.
    expressions = [value.replace("%", "%%") for value in columns.values()] + extra_values
    sql = (f'INSERT INTO "{model._meta.db_table}" ({", ".join(names)}) '
           f'SELECT {", ".join(expressions)} {source.replace("%", "%%")}')
    started = time.perf_counter()
    cursor.execute(sql, extra_params)
    elapsed = time.perf_counter() - started
    if label:
        print(f"  {label:<28} {cursor.rowcount:>9} rows {elapsed:7.1f} s", flush=True)
    return elapsed


def _reset_sequence(cursor, table: str) -> None:
    cursor.execute(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                   f'COALESCE((SELECT max(id) FROM "{table}"), 0) + 1, false)')


def loaded_size() -> int | None:
    """The size of the data set loaded now, or None when none (or a stale one) is."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [META_TABLE])
        if cursor.fetchone()[0] is None:
            return None
        cursor.execute(f"SELECT size, version FROM {META_TABLE} ORDER BY loaded_at DESC "
                       "LIMIT 1")
        row = cursor.fetchone()
    if row is None or row[1] != DATA_VERSION:
        return None
    return row[0]


def empty(cursor) -> None:
    """Empty the benchmark's tables. The audit trail and the ledger refuse TRUNCATE by
    trigger; a superuser's session in replica mode, where ordinary triggers do not
    fire, may (as the test suite's flush does)."""
    cursor.execute("SET session_replication_role = replica")
    try:
        cursor.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    finally:
        cursor.execute("SET session_replication_role = DEFAULT")
    cursor.execute(f"CREATE TABLE IF NOT EXISTS {META_TABLE} (size integer, version integer, "
                   "seconds double precision, loaded_at timestamptz DEFAULT now())")
    cursor.execute(f"DELETE FROM {META_TABLE}")


def load(size: int, *, verbose: bool = True) -> float:
    """Fill the tables for `size` registrations; the seconds it took (VACUUM ANALYZE
    included). Replaces whatever the tables held."""
    from backoffice.models import StaffAction
    from billing.models import Account, LedgerEntry, Order, OrderItem
    from contacts.models import Contact
    from registrar.models import Process, ProviderAccount, Registration, Tld

    if connection.vendor != "postgresql":
        raise RuntimeError("The scale data set is written with PostgreSQL's generate_series.")
    _check_words()
    sizes = Sizes.for_registrations(size)
    say = print if verbose else (lambda *args, **kwargs: None)
    started = time.perf_counter()
    overrides = _override_rows(sizes)
    with connection.cursor() as cursor:
        empty(cursor)
        cursor.execute(_FUNCTIONS)
        cursor.execute("SET LOCAL synchronous_commit = off" if connection.in_atomic_block
                       else "SET synchronous_commit = off")
        _load_reference(cursor, sizes, overrides, ProviderAccount, Tld)
        say(f"loading {sizes}", flush=True) if verbose else None
        _load_accounts(cursor, sizes, Account)
        _load_contacts(cursor, sizes, Contact)
        _load_registrations(cursor, sizes, Registration)
        _load_orders(cursor, sizes, Order, OrderItem, LedgerEntry)
        _load_processes(cursor, sizes, Process)
        _load_audit(cursor, sizes, StaffAction)
        derive(verbose=verbose)
        for table in TABLES:
            _reset_sequence(cursor, table)
        cursor.execute("DROP TABLE IF EXISTS pg_temp.scale_names")
        cursor.execute("DROP TABLE IF EXISTS pg_temp.scale_tlds")
        analysed = time.perf_counter()
        if connection.in_atomic_block:  # VACUUM cannot run in a transaction (the tests)
            cursor.execute("ANALYZE")
        else:
            for table in TABLES:
                cursor.execute(f"VACUUM ANALYZE {table}")
        say(f"  {'VACUUM ANALYZE':<28} {'':>9}      {time.perf_counter() - analysed:7.1f} s")
        seconds = time.perf_counter() - started
        cursor.execute(f"INSERT INTO {META_TABLE} (size, version, seconds) VALUES (%s, %s, %s)",
                       [size, DATA_VERSION, seconds])
    return seconds


def derive(*, verbose: bool = True) -> None:
    """What the project keeps on rows beside the ledger (the orders' ledger figures),
    recomputed through the project's own function for entries written around the model,
    where it has one."""
    from billing import ledger

    fill = getattr(ledger, "fill_ledger_figures", None)
    if fill is None:
        return
    started = time.perf_counter()
    updated = fill()
    if verbose:
        print(f"  {'orders: ledger figures':<28} {updated:>9} rows "
              f"{time.perf_counter() - started:7.1f} s", flush=True)


def _load_reference(cursor, sizes: Sizes, overrides, ProviderAccount, Tld) -> None:
    cursor.execute("CREATE TEMP TABLE scale_names (n bigint PRIMARY KEY, label text, "
                   "label_unicode text, tld_id bigint)")
    with cursor.copy("COPY scale_names (n, label, label_unicode, tld_id) FROM STDIN") as copy:
        for row in overrides:
            copy.write_row(row)
    cursor.execute("CREATE TEMP TABLE scale_tlds (id bigint PRIMARY KEY, name text, "
                   "name_unicode text)")
    with cursor.copy("COPY scale_tlds (id, name, name_unicode) FROM STDIN") as copy:
        for row in _tld_rows():
            copy.write_row(row)
    cursor.execute("ANALYZE scale_names; ANALYZE scale_tlds")
    _insert(cursor, ProviderAccount, {
        "id": "g", "label": "'scale-' || g", "kind": "'sandbox'",
        "base_url": "'https://sandbox' || g || '.invalid'", "account_ref": "''",
        "secret_env": "''", "timeout_seconds": "15.0", "enabled": "true",
        "options": "'{}'::jsonb", "created_at": "now()", "updated_at": "now()",
    }, "FROM generate_series(1, 3) g")
    _insert(cursor, Tld, {
        "id": "t.id", "name": "t.name", "upstream_id": "t.id",
        "provider_account_id": "1 + t.id % 3",
        "supports_privacy": "t.id % 7 <> 0", "supports_transfer_lock": "true",
        "supports_push_transfer": "t.id % 5 = 0", "supports_dnssec": "t.id % 9 <> 0",
        "requires_contact_validation": "t.id % 4 = 0", "authcode_behavior": "'standard'",
        "privacy_fee_amount": "CASE WHEN t.id % 3 = 0 THEN 499 END",
        "privacy_fee_currency": "CASE WHEN t.id % 3 = 0 THEN 'USD' ELSE '' END",
        "registrant_change_fee_amount": "NULL", "registrant_change_fee_currency": "''",
        "cancellation_window_days": "5",
    }, "FROM scale_tlds t")


def _load_accounts(cursor, sizes: Sizes, Account) -> None:
    words, suffixes = _array(WORDS), _array(COMPANY_SUFFIXES)
    firsts = _array([first for first, _ in FIRST_NAMES])
    lasts = _array([last for last, _ in LAST_NAMES])
    first_ascii = _array([ascii for _, ascii in FIRST_NAMES])
    last_ascii = _array([ascii for _, ascii in LAST_NAMES])
    mail = _array(MAIL_DOMAINS)
    company = "pg_temp.u(g, 1) < 0.6"
    _insert(cursor, Account, {
        "id": "g",
        "name": f"""CASE WHEN {company}
            THEN initcap(({words})[1 + g % {len(WORDS)}]) || ' '
                 || initcap(({words})[1 + (g / {len(WORDS)}) % {len(WORDS)}]) || ' '
                 || ({suffixes})[1 + (g / 7) % {len(COMPANY_SUFFIXES)}]
            ELSE ({firsts})[1 + g % {len(FIRST_NAMES)}] || ' '
                 || ({lasts})[1 + (g / {len(FIRST_NAMES)}) % {len(LAST_NAMES)}] END""",
        "email": f"""CASE WHEN {company}
            THEN 'billing' || g || '@' || ({words})[1 + g % {len(WORDS)}]
                 || ({words})[1 + (g / {len(WORDS)}) % {len(WORDS)}] || '.example'
            ELSE ({first_ascii})[1 + g % {len(FIRST_NAMES)}] || '.'
                 || ({last_ascii})[1 + (g / {len(FIRST_NAMES)}) % {len(LAST_NAMES)}]
                 || g || '@' || ({mail})[1 + (g / 3) % {len(MAIL_DOMAINS)}] END""",
        "customer_reference": "'ACC-' || lpad(g::text, 7, '0')",
        "entri_user_id": "CASE WHEN g % 10 = 0 THEN 'entri-' || g ELSE '' END",
        "domain_api_account": "''",
        "created_at": "now() - (pg_temp.u(g, 2) * interval '3000 days')",
        "updated_at": "now() - (pg_temp.u(g, 3) * interval '300 days')",
    }, f"FROM generate_series(1, {sizes.accounts}) g", label="billing_account")


def _load_contacts(cursor, sizes: Sizes, Contact) -> None:
    words, suffixes = _array(WORDS), _array(COMPANY_SUFFIXES)
    firsts = _array([first for first, _ in FIRST_NAMES])
    lasts = _array([last for last, _ in LAST_NAMES])
    first_ascii = _array([ascii for _, ascii in FIRST_NAMES])
    last_ascii = _array([ascii for _, ascii in LAST_NAMES])
    mail, countries = _array(MAIL_DOMAINS), _array(COUNTRIES)
    first_index = f"1 + (hashint4(g::int) & 65535) % {len(FIRST_NAMES)}"
    last_index = f"1 + (hashint4(g::int + 77) & 65535) % {len(LAST_NAMES)}"
    pending = "pg_temp.u(g, 14) < 0.02"
    _insert(cursor, Contact, {
        "id": "g", "upstream_id": "100000 + g", "handle": "'C' || lpad(g::text, 7, '0')",
        "first_name": f"({firsts})[{first_index}]",
        "last_name": f"({lasts})[{last_index}]",
        "organization": f"""CASE WHEN pg_temp.u(g, 11) < 0.4
            THEN initcap(({words})[1 + g % {len(WORDS)}]) || ' '
                 || ({suffixes})[1 + (g / 3) % {len(COMPANY_SUFFIXES)}] ELSE '' END""",
        "street_address": "(g % 200 + 1) || ' ' || "
                          f"initcap(({words})[1 + (g / 5) % {len(WORDS)}]) || ' Street'",
        "post_code": "lpad((g % 99999)::text, 5, '0')",
        "city": f"initcap(({words})[1 + (g / 11) % {len(WORDS)}]) || 'ville'",
        "state": "''",
        "country": f"({countries})[1 + (hashint4(g::int + 5) & 65535) % {len(COUNTRIES)}]",
        "email": f"({first_ascii})[{first_index}] || '.' || ({last_ascii})[{last_index}] "
                 f"|| g || '@' || ({mail})[1 + g % {len(MAIL_DOMAINS)}]",
        "phone": "'+49.30' || lpad((g % 10000000)::text, 7, '0')",
        "extra_properties": "'{}'::jsonb",
        "validations": f"""CASE WHEN {pending}
            THEN '[{{"status": "pending", "type": "email"}}]'::jsonb
            WHEN pg_temp.u(g, 14) < 0.3 THEN '[{{"status": "verified"}}]'::jsonb
            ELSE '[]'::jsonb END""",
        "verification_state": f"""CASE WHEN {pending} THEN 'pending'
            WHEN pg_temp.u(g, 14) < 0.3 THEN 'verified' ELSE 'none' END""",
        "verification_pending_since": f"CASE WHEN {pending} "
                                      "THEN now() - pg_temp.u(g, 15) * interval '20 days' END",
        "verification_due_at": f"CASE WHEN {pending} THEN now() - pg_temp.u(g, 15) * "
                               "interval '20 days' + interval '15 days' END",
        "split_from_id": "NULL",
        "tld_id": f"1 + floor({sizes.tlds} * pg_temp.u(g, 12) ^ 3)::int",
        "account_id": f"CASE WHEN pg_temp.u(g, 13) < 0.8 "
                      f"THEN 1 + (hashint4(g::int + 9) & 2147483647) % {sizes.accounts} END",
        "upstream_created_at": "now() - pg_temp.u(g, 16) * interval '3650 days'",
        "upstream_updated_at": "now() - pg_temp.u(g, 17) * interval '365 days'",
        "unsettled_operation": "''", "unsettled_since": "NULL",
        "created_at": "now() - pg_temp.u(g, 16) * interval '3650 days'",
        "updated_at": "now() - pg_temp.u(g, 17) * interval '365 days'",
    }, f"FROM generate_series(1, {sizes.contacts}) g", label="contacts_contact")


#: (status, cumulative share) of registrations, as a registrar's book looks.
_STATUSES = [("active", 0.80), ("expired", 0.85), ("pending", 0.86),
             ("pending_transfer", 0.87), ("redemption", 0.88), ("transferred_out", 0.95),
             ("cancelled", 1.0)]


def _pick(cumulative: list[tuple[str, float]], draw: str) -> str:
    whens = " ".join(f"WHEN {draw} < {share} THEN '{value}'" for value, share in cumulative[:-1])
    return f"CASE {whens} ELSE '{cumulative[-1][0]}' END"


def _load_registrations(cursor, sizes: Sizes, Registration) -> None:
    words, count = _array(WORDS), len(WORDS)
    size = sizes.registrations
    # Row number n (0-based): two words, sometimes hyphenated, a number once the pairs
    # run out; the overrides (IDN, rare names) replace it.
    label = (f"({words})[1 + i.n % {count}] || CASE WHEN pg_temp.u(i.n, 1) < 0.3 THEN '-' "
             f"ELSE '' END || ({words})[1 + (i.n / {count}) % {count}] || "
             f"CASE WHEN i.n >= {count * count} THEN (i.n / {count * count})::text ELSE '' END")
    status = "s.status"
    live = f"{status} NOT IN ('expired', 'transferred_out', 'cancelled', 'redemption')"
    # Tech and billing contacts are few (a reseller's hostmaster), owners many.
    tech_pool = max(1, sizes.contacts // 100)
    source = f"""
        FROM (SELECT g - 1 AS n, g AS id FROM generate_series(1, {size}) g) i
        LEFT JOIN scale_names o ON o.n = i.n
        CROSS JOIN LATERAL (SELECT {_pick(_STATUSES, 'pg_temp.u(i.n, 2)')} AS status,
            COALESCE(o.tld_id, 1 + floor({sizes.tlds} * pg_temp.u(i.n, 3) ^ 3)::int) AS tld_id,
            COALESCE(o.label, {label}) AS label,
            COALESCE(o.label_unicode, {label}) AS label_unicode,
            1 + (hashint4(i.n::int + 3) & 2147483647) % {sizes.contacts} AS owner) s
        JOIN scale_tlds t ON t.id = s.tld_id"""
    n = "i.n"
    _insert(cursor, Registration, {
        "id": "i.id", "upstream_id": f"CASE WHEN pg_temp.u({n}, 4) < 0.98 "
                                     f"THEN 'reg-' || lpad(to_hex({n}), 8, '0') END",
        "name": "s.label || '.' || t.name",
        "name_unicode": "s.label_unicode || '.' || t.name_unicode",
        "tld_id": "s.tld_id", "provider_account_id": "1 + s.tld_id % 3",
        "account_id": f"CASE WHEN pg_temp.u({n}, 5) < 0.9 THEN 1 + floor({sizes.accounts} "
                      f"* pg_temp.u({n}, 6) ^ 2)::int END",
        "status": status,
        "expires_at": f"""CASE WHEN {live} THEN now() + pg_temp.u({n}, 7) * interval '730 days'
            WHEN {status} = 'redemption' THEN now() - pg_temp.u({n}, 7) * interval '30 days'
            ELSE now() - pg_temp.u({n}, 7) * interval '1500 days' END""",
        "auto_renew": f"pg_temp.u({n}, 8) < 0.85", "locked": f"pg_temp.u({n}, 9) < 0.6",
        "privacy_protect": f"pg_temp.u({n}, 10) < 0.4",
        "dnssec_enabled": f"pg_temp.u({n}, 11) < 0.1",
        "server_transfer_prohibited": f"pg_temp.u({n}, 12) < 0.01",
        "local_contact_active": "false",
        "cancellation_deadline_at": "NULL", "within_cancellation_window": "NULL",
        "nameservers": """CASE WHEN pg_temp.u(i.n, 13) < 0.7
            THEN '["ns1.dns.example", "ns2.dns.example"]'::jsonb
            ELSE jsonb_build_array('ns1.' || s.label || '.' || t.name,
                                   'ns2.' || s.label || '.' || t.name) END""",
        "dns_records": "'[]'::jsonb",
        "owner_contact_id": "s.owner",
        "admin_contact_id": f"CASE WHEN pg_temp.u({n}, 14) < 0.7 THEN s.owner "
                            f"ELSE 1 + (hashint4({n}::int + 4) & 2147483647) "
                            f"% {sizes.contacts} END",
        "tech_contact_id": f"1 + (hashint4({n}::int + 5) & 2147483647) % {tech_pool}",
        "billing_contact_id": f"CASE WHEN pg_temp.u({n}, 15) < 0.5 THEN s.owner "
                              f"ELSE 1 + (hashint4({n}::int + 6) & 2147483647) % {tech_pool} END",
        "pending_async": f"pg_temp.u({n}, 16) < 0.005",
        "rtr_process_id": "''", "rtr_process_status": "''",
        "transfer_out_pending": f"{status} = 'active' AND pg_temp.u({n}, 17) < 0.0005",
        "transfer_out_auto_ack_at": f"CASE WHEN {status} = 'active' AND pg_temp.u({n}, 17) "
                                    "< 0.0005 THEN now() + interval '3 days' END",
        "push_transfer_pending": "false", "subscription_id": "''",
        "upstream_created_at": f"now() - pg_temp.u({n}, 18) * interval '3650 days'",
        "upstream_updated_at": f"now() - pg_temp.u({n}, 19) * interval '200 days'",
        "last_synced_at": f"CASE WHEN pg_temp.u({n}, 20) < 0.95 "
                          f"THEN now() - pg_temp.u({n}, 21) * interval '48 hours' END",
        "missing_upstream_at": f"CASE WHEN pg_temp.u({n}, 22) < 0.001 "
                               "THEN now() - interval '2 days' END",
        "unsettled_operation": f"CASE WHEN pg_temp.u({n}, 23) < 0.0001 THEN 'lock' ELSE '' END",
        "unsettled_since": f"CASE WHEN pg_temp.u({n}, 23) < 0.0001 "
                           "THEN now() - interval '1 hour' END",
        "customer_flagged": f"pg_temp.u({n}, 24) < 0.005",
        "created_at": f"now() - pg_temp.u({n}, 18) * interval '3650 days'",
        "updated_at": f"now() - pg_temp.u({n}, 19) * interval '200 days'",
    }, source, label="registrar_registration")


_KINDS = [("renewal", 0.50), ("registration", 0.80), ("transfer_in", 0.90),
          ("privacy", 0.95), ("registrant_change", 0.98), ("email_infrastructure", 1.0)]
# Most orders went through; a few are in every state finance has to look at.
_ORDER_STATUSES = [("registered", 0.62), ("transferred", 0.70), ("transfer_success", 0.74),
                   ("refunded", 0.77), ("payment_failed", 0.82), ("cancelled", 0.86),
                   ("quoted", 0.88), ("failed", 0.895), ("transfer_failed", 0.90),
                   ("payment_successful", 0.9003), ("registration_in_progress", 0.9005),
                   ("transfer_started", 0.9007), ("payment_initiated", 0.9017),
                   ("transfer_completed", 1.0)]
_CHARGED = ("payment_successful", "registration_in_progress", "registered", "transferred",
            "transfer_started", "transfer_completed", "transfer_ack", "transfer_success",
            "transfer_failed", "refunded")


def _load_orders(cursor, sizes: Sizes, Order, OrderItem, LedgerEntry) -> None:
    size = sizes.orders
    cumulative, total = [], 0
    for code, share, _ in CURRENCIES:
        total += share
        cumulative.append((code, total / 100))
    exponents = " ".join(f"WHEN '{code}' THEN {10 ** places}"
                         for code, _, places in CURRENCIES)
    charged = ", ".join(f"'{status}'" for status in _CHARGED)
    # Orders follow the calendar: the id grows with placed_at, over six years.
    source = f"""
        FROM generate_series(1, {size}) g
        CROSS JOIN LATERAL (SELECT {_pick(_ORDER_STATUSES, 'pg_temp.u(g, 31)')} AS status,
            {_pick(cumulative, 'pg_temp.u(g, 32)')} AS currency,
            1 + (hashint4(g::int + 33) & 2147483647) % {sizes.registrations} AS registration,
            now() - interval '2190 days' * (1 - g::double precision / {size})
                - pg_temp.u(g, 34) * interval '6 hours'
                - CASE WHEN g > {size} - 200 THEN interval '2 hours' ELSE interval '0' END
                AS placed_at) s
        CROSS JOIN LATERAL (SELECT (CASE s.currency {exponents} END
            * (5 + floor(pg_temp.u(g, 35) * 45)))::bigint
            + (CASE WHEN s.currency = 'JPY' THEN 0 ELSE 99 END) AS total) m
        JOIN registrar_registration r ON r.id = s.registration"""
    mismatch = "pg_temp.u(g, 37) < 0.05"
    _insert(cursor, Order, {
        "id": "g", "upstream_id": "CASE WHEN pg_temp.u(g, 36) < 0.95 THEN 'ord-' || g END",
        "provider_account_id": "r.provider_account_id", "account_id": "r.account_id",
        "registration_id": "r.id", "tld_id": "r.tld_id",
        "kind": _pick(_KINDS, "pg_temp.u(g, 38)"),
        "status": "s.status",
        "status_reason": "CASE WHEN s.status IN ('failed', 'transfer_failed', 'refunded') "
                         "THEN 'Registry refused the request' ELSE '' END",
        "domain": "r.name", "years": "1 + (g % 10 = 0)::int",
        "purchase_type": "CASE WHEN g % 97 = 0 THEN 'aftermarket_s' ELSE 'registration' END",
        "premium": "g % 89 = 0", "currency": "s.currency",
        "subtotal_minor": "m.total * 9 / 10", "fees_minor": "m.total - m.total * 9 / 10",
        "total_minor": "m.total",
        # A refund is given back in full, except the few "marked refunded, nothing
        # refunded" orders finance has to look at.
        "refunded_minor": "CASE WHEN s.status = 'refunded' AND g % 500 <> 0 THEN m.total "
                          "ELSE 0 END",
        "quoted_total_minor": f"""CASE WHEN g % 10 = 0 THEN
            CASE WHEN {mismatch} THEN m.total + 100 ELSE m.total END END""",
        "quote": "'{}'::jsonb", "quote_expires_at": "NULL", "placed_by_id": "NULL",
        "idempotency_key": "CASE WHEN g % 10 = 0 THEN 'bench-' || g END",
        "customer_reference": "CASE WHEN g % 4 = 0 THEN 'REF-' || lpad(g::text, 8, '0') "
                              "ELSE '' END",
        "unsettled_since": "CASE WHEN g % 20000 = 7 THEN now() - interval '30 minutes' END",
        "placed_at": "s.placed_at", "created_at": "s.placed_at",
        "updated_at": "s.placed_at + interval '5 minutes'",
    }, source, label="billing_order")
    _insert(cursor, OrderItem, {
        "order_id": "o.id", "upstream_id": "COALESCE(o.upstream_id, '')",
        "description": "initcap(replace(o.kind, '_', ' ')) || ' of ' || o.domain "
                       "|| ' for ' || o.years || ' year' || CASE WHEN o.years > 1 THEN 's' "
                       "ELSE '' END",
        "domain": "o.domain", "quantity": "o.years",
        "unit_amount_minor": "o.subtotal_minor / o.years", "total_minor": "o.subtotal_minor",
        "details": "'{}'::jsonb",
    }, "FROM billing_order o", label="billing_orderitem")
    payment = (f"o.status IN ({charged}) AND NOT (o.status IN ('failed', 'transfer_failed') "
               "AND o.id % 3 = 0)")
    _insert(cursor, LedgerEntry, {
        "order_id": "o.id", "kind": "'payment'", "state": "'succeeded'",
        "amount_minor": "o.total_minor", "currency": "o.currency", "settles_id": "NULL",
        "external_reference": "COALESCE(o.upstream_id, 'order-' || o.id) || ':charge'",
        "note": "''", "occurred_at": "o.placed_at + interval '1 minute'",
    }, f"FROM billing_order o WHERE {payment}", label="billing_ledgerentry (payments)")
    # Refunds: succeeded for refunded orders, a few still pending.
    _insert(cursor, LedgerEntry, {
        "order_id": "o.id", "kind": "'refund'",
        "state": "CASE WHEN o.id % 200 = 1 THEN 'pending' ELSE 'succeeded' END",
        "amount_minor": "o.refunded_minor", "currency": "o.currency", "settles_id": "NULL",
        "external_reference": "COALESCE(o.upstream_id, 'order-' || o.id) || ':refund'",
        "note": "o.status_reason", "occurred_at": "o.placed_at + interval '3 days'",
    }, "FROM billing_order o WHERE o.refunded_minor > 0", label="billing_ledgerentry (refunds)")


_PROCESS_STATUSES = [("COMPLETED", 0.85), ("FAILED", 0.88), ("CANCELLED", 0.90),
                     ("RUNNING", 0.95), ("SCHEDULED", 0.97), ("SUSPENDED", 0.985),
                     ("IN_DOUBT", 0.99), ("NEW", 1.0)]
_ACTIONS = ["create", "renew", "transfer", "update", "delete", "restore", "push_transfer"]


def _load_processes(cursor, sizes: Sizes, Process) -> None:
    actions = _array(_ACTIONS)
    source = f"""FROM generate_series(1, {sizes.processes}) g
        CROSS JOIN LATERAL (SELECT {_pick(_PROCESS_STATUSES, 'pg_temp.u(g, 41)')} AS status,
            now() - interval '1460 days' * (1 - g::double precision / {sizes.processes})
                AS created) s"""
    terminal = "s.status IN ('COMPLETED', 'INVALID', 'CANCELLED', 'FAILED')"
    _insert(cursor, Process, {
        "id": "g", "upstream_id": "'p-' || (9000000 + g)",
        "registration_id": f"1 + (hashint4(g::int + 42) & 2147483647) % {sizes.registrations}",
        "action": f"({actions})[1 + g % {len(_ACTIONS)}]", "status": "s.status",
        "is_terminal": terminal,
        "stuck": f"NOT ({terminal}) AND pg_temp.u(g, 43) < 0.2",
        "poll_count": "(g % 12)",
        "next_poll_at": f"CASE WHEN NOT ({terminal}) THEN now() + interval '5 minutes' END",
        "raw": "jsonb_build_object('id', 9000000 + g, 'status', s.status)",
        "upstream_created_at": "s.created",
        "completed_at": f"CASE WHEN {terminal} THEN s.created + interval '1 hour' END",
        "created_at": "s.created", "updated_at": "s.created + interval '1 hour'",
    }, source, label="registrar_process")


_AUDIT_ACTIONS = [("registration.sync", 0.45), ("registration.lock", 0.55),
                  ("registration.set_privacy", 0.62), ("registration.set_auto_renew", 0.70),
                  ("registration.change_nameservers", 0.78), ("registration.reveal_authcode",
                                                               0.82),
                  ("contact.update", 0.88), ("order.place", 0.94),
                  ("registration.renew", 0.97), ("config.tld.change", 1.0)]
_OUTCOMES = [("succeeded", 0.90), ("failed", 0.95), ("pending", 0.99),
             ("unknown", 0.995), ("payment_required", 1.0)]


def _load_audit(cursor, sizes: Sizes, StaffAction) -> None:
    from django.contrib.auth import get_user_model

    users = get_user_model()
    staff = []
    for number in range(1, 21):
        user, _ = users.objects.get_or_create(
            username=f"scale-staff-{number}",
            defaults={"is_staff": True, "first_name": FIRST_NAMES[number][0],
                      "last_name": LAST_NAMES[number][0]})
        staff.append(user.pk)
    staff_ids = "ARRAY[" + ", ".join(str(pk) for pk in staff) + "]::bigint[]"
    size = sizes.audit
    system = "pg_temp.u(g, 51) < 0.6"
    source = f"""FROM generate_series(1, {size}) g
        CROSS JOIN LATERAL (SELECT {_pick(_AUDIT_ACTIONS, 'pg_temp.u(g, 52)')} AS action,
            1 + (hashint4(g::int + 53) & 2147483647) % {sizes.registrations} AS target,
            CASE WHEN {system} THEN NULL
                 ELSE ({staff_ids})[1 + (hashint4(g::int + 54) & 65535) % 20] END AS actor,
            now() - interval '1095 days' * (1 - g::double precision / {size}) AS at) s
        JOIN registrar_registration r ON r.id = s.target
        LEFT JOIN auth_user u ON u.id = s.actor"""
    _insert(cursor, StaffAction, {
        "id": "g", "created_at": "s.at", "actor_id": "s.actor",
        "actor_label": "COALESCE(u.username, CASE WHEN g % 3 = 0 THEN 'poll-processes' "
                       "ELSE 'sync' END)",
        "action": "s.action",
        "target_type": "CASE WHEN s.action LIKE 'registration.%' THEN 'registrar.registration'"
                       " WHEN s.action = 'contact.update' THEN 'contacts.contact' "
                       "WHEN s.action = 'order.place' THEN 'billing.order' "
                       "ELSE 'registrar.tld' END",
        "target_id": "CASE WHEN s.action LIKE 'registration.%' THEN r.id::text "
                     "WHEN s.action = 'contact.update' THEN r.owner_contact_id::text "
                     "WHEN s.action = 'order.place' THEN (1 + g % 1000)::text "
                     "ELSE r.tld_id::text END",
        "target_repr": "CASE WHEN s.action LIKE 'registration.%' THEN r.name_unicode "
                       "WHEN s.action = 'config.tld.change' THEN '.' || split_part(r.name, '.', 2) "
                       "ELSE 'Order for ' || r.name_unicode END",
        "parameters": "CASE WHEN s.action = 'registration.lock' "
                      "THEN '{\"locked\": true}'::jsonb ELSE '{}'::jsonb END",
        "outcome": _pick(_OUTCOMES, "pg_temp.u(g, 55)"),
        "upstream_status": "CASE WHEN pg_temp.u(g, 55) < 0.9 THEN 200 ELSE 422 END",
        "upstream_code": "CASE WHEN pg_temp.u(g, 55) >= 0.9 THEN 'validation_error' ELSE '' END",
        "upstream_request_id": "'req-' || md5(g::text)",
        "process_id": "CASE WHEN pg_temp.u(g, 55) >= 0.95 THEN 'p-' || g ELSE '' END",
        "message": "initcap(replace(split_part(s.action, '.', 2), '_', ' ')) || ': ' "
                   "|| r.name_unicode || '.'",
        "channel": "CASE WHEN s.actor IS NULL THEN 'task' WHEN g % 50 = 0 THEN 'cli' "
                   "ELSE 'web' END",
    }, source, label="backoffice_staffaction")


# -- what the benchmark looks up in the loaded set ---------------------------------------

@dataclass(frozen=True)
class Targets:
    """Rows the requests are about, read back from the loaded set."""

    registration_id: int
    account_id: int
    account_email: str
    contact_name: str
    contact_email: str
    busy_contact_id: int
    common_word: str = "shop"
    unicode_word: str = "münchen"
    rare_name: str = RARE_NAME


def targets() -> Targets:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM registrar_registration WHERE name = %s", [RARE_NAME])
        registration_id = cursor.fetchone()[0]
        # A customer with a dozen or more domains, from the middle of the list.
        cursor.execute("SELECT a.id, a.email FROM billing_account a WHERE a.id >= "
                       "(SELECT max(id) / 2 FROM billing_account) AND EXISTS (SELECT 1 FROM "
                       "registrar_registration r WHERE r.account_id = a.id) ORDER BY a.id "
                       "LIMIT 1")
        account_id, account_email = cursor.fetchone()
        cursor.execute("SELECT last_name, email FROM contacts_contact ORDER BY id "
                       "OFFSET (SELECT count(*) / 3 FROM contacts_contact) LIMIT 1")
        contact_name, contact_email = cursor.fetchone()
        # The hostmaster of many registrations (a tech contact).
        cursor.execute("SELECT tech_contact_id FROM registrar_registration "
                       "WHERE id = (SELECT min(id) FROM registrar_registration)")
        busy_contact_id = cursor.fetchone()[0]
    return Targets(registration_id=registration_id, account_id=account_id,
                   account_email=account_email, contact_name=contact_name,
                   contact_email=contact_email, busy_contact_id=busy_contact_id)
