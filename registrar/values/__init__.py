"""One module per kind of value the back-office takes in, each the single place its rule
lives: every form, command, webhook and service that accepts such a value calls it.

- `names`: domain and host names (IDNA 2008 with UTS #46 mapping; invisible characters,
  IP literals and mixed-script labels refused; whole-script look-alikes warned about);
- `addresses`: IP addresses, one host each, and which of them may be glue;
- `phones`: E.164 numbers, in the dotted and the plain upstream dialects;
- `countries`: ISO 3166-1 alpha-2 codes;
- `currencies`: ISO 4217 codes and their minor units, from the maintained `iso4217` table;
- `amounts`: money in minor units within the range of the column it lands in;
- `dates`: times within the window the back-office can hold and show;
- `text`: free text: the column's length, no control characters, no bidi controls.
- `emails`: one mailbox: the syntax, RFC 5321 lengths, and the name rule for its domain.

Each check raises `django.core.exceptions.ValidationError` with a code and a message a
person can act on; the caller names the field (a form's field, a webhook's JSON path, a
command's option). The rules are described for staff in docs/input.md.
"""
