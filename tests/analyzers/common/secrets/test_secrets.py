"""The secret rules on text: each kind found, no false alarms, one finding per value, the
allowlist pragmas.

Every value below is made up for the test (random characters in the issuers' formats).
"""

from __future__ import annotations

import base64
import json
import random
import string

import pytest

from analyzers.common.secrets.find import decode_text, find_secrets

_RNG = random.Random(7)
ALNUM = string.ascii_letters + string.digits


def rand(alphabet: str, n: int) -> str:
    return "".join(_RNG.choice(alphabet) for _ in range(n))


def jwt() -> str:
    def part(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'sub': '1234567890'})}." \
           f"{rand(ALNUM + '-_', 43)}"


def pem(kind: str = "RSA ") -> str:
    body = base64.b64encode(_RNG.randbytes(400)).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return f"-----BEGIN {kind}PRIVATE KEY-----\n" + "\n".join(lines) + \
        f"\n-----END {kind}PRIVATE KEY-----"


AWS_ID = "AKIA" + rand(string.ascii_uppercase + "234567", 16)
AWS_SECRET = rand(ALNUM + "/+", 40)
GITHUB = "ghp_" + rand(ALNUM, 36)

POSITIVES: list[tuple[str, str, str]] = [
    ("aws-access-key-id", f"key_id = '{AWS_ID}'", AWS_ID),
    ("aws-secret-access-key", f"aws_secret_access_key = {AWS_SECRET}", AWS_SECRET),
    ("gcp-api-key", f'"apiKey": "AIza{(v := rand(ALNUM + "-_", 35))}"', "AIza" + v),
    ("gcp-oauth-client-secret", f"secret: GOCSPX-{(v2 := rand(ALNUM, 28))}", "GOCSPX-" + v2),
    ("azure-storage-account-key",
     f"conn = 'DefaultEndpointsProtocol=https;AccountName=x;AccountKey={(v3 := rand(ALNUM, 86))}"
     "==;EndpointSuffix=core.windows.net'", v3 + "=="),
    ("github-token", f'auth = "token {GITHUB}"', GITHUB),
    ("github-fine-grained-token", f"GH={(v4 := 'github_pat_' + rand(ALNUM + '_', 82))}", v4),
    ("gitlab-token", f"url = 'x' + 'glpat-{(v5 := rand(ALNUM, 20))}'", "glpat-" + v5),
    ("slack-token",
     f"client = WebClient('{(v6 := 'xoxb-1234567890-9876543210-' + rand(ALNUM, 24))}')", v6),
    ("slack-webhook", f"hook https://hooks.slack.com/services/T0123ABCD/B0456EFGH/"
                      f"{(v7 := rand(ALNUM, 24))}", "T0123ABCD/B0456EFGH/" + v7),
    ("stripe-secret-key", f"stripe.api_key = 'sk_live_{(v8 := rand(ALNUM, 24))}'",
     "sk_live_" + v8),
    ("npm-token", f"//registry.npmjs.org/:_authToken=npm_{(v9 := rand(ALNUM, 36))}",
     "npm_" + v9),
    ("pypi-token", f"password = pypi-AgEIcHlwaS5vcmc{(v10 := rand(ALNUM, 60))}",
     "pypi-AgEIcHlwaS5vcmc" + v10),
    ("jwt", f"Authorization: Bearer {(v11 := jwt())}", v11),
    ("sendgrid-api-key", f"SG.{(v12 := rand(ALNUM, 22))}.{(v13 := rand(ALNUM, 43))}",
     f"SG.{v12}.{v13}"),
    ("anthropic-api-key", f"key = 'sk-ant-api03-{(v14 := rand(ALNUM, 93))}'",
     "sk-ant-api03-" + v14),
    ("basic-auth-url", "DATABASE_URL = 'postgresql://app:Xq7!vR2#pL9z@db.internal:5432/app'",
     "Xq7!vR2#pL9z"),
    ("hardcoded-password", "Password=Pa55w0rd!Prod", "Pa55w0rd!Prod"),  # unquoted, .ini style
    ("hardcoded-password", 'db_password = "#Kp9$mZ2!qL"', "#Kp9$mZ2!qL"),  # starts with a symbol
    ("hardcoded-password", "export DB_PASS=h4ppyD4ys-2024", "h4ppyD4ys-2024"),
    ("hardcoded-password", "  password: 'c0rrect-h0rse'", "c0rrect-h0rse"),  # YAML
    ("hardcoded-password", 'self.client_secret = "x9Fq2LmP0aZk"', "x9Fq2LmP0aZk"),
    # A hex key under a secret's name (a bare hex string elsewhere is taken for a digest).
    ("hardcoded-password", f"TWILIO_AUTH_TOKEN: str = '{(v15 := rand('0123456789abcdef', 32))}'",
     v15),
    ("high-entropy-base64", f"signing = {{'upload': '{(v16 := rand(ALNUM, 40))}'}}", v16),
]


@pytest.mark.parametrize(("rule", "line", "value"), POSITIVES,
                         ids=[f"{p[0]}-{i}" for i, p in enumerate(POSITIVES)])
def test_each_kind_of_secret_is_found(rule: str, line: str, value: str) -> None:
    text = f"first = 1\n{line}\nlast = 2\n"
    hits = find_secrets(text)
    assert [(h.rule, h.line, h.value) for h in hits] == [(rule, 2, value)]
    # The span is where the value is written (a masker replaces exactly that).
    [(start, end)] = hits[0].spans
    assert text[start:end].replace("\\\\", "\\") == value


def test_private_key_blocks_multi_line_and_escaped() -> None:
    block = pem()
    hits = find_secrets("x = 1\n" + block + "\n")
    assert [(h.rule, h.line, h.severity) for h in hits] == [("private-key", 2, "critical")]
    escaped = block.replace("\n", "\\n")
    hits = find_secrets(f'CREDS = {{"type": "service_account", "private_key": "{escaped}"}}\n')
    assert [h.rule for h in hits] == ["private-key"]
    openssh = pem("OPENSSH ")
    assert [h.rule for h in find_secrets(openssh)] == ["private-key"]


def test_a_private_key_spans_each_body_line_not_the_armor() -> None:
    block = pem()
    text = "x = 1\n" + block + "\n"
    [hit] = find_secrets(text)
    pieces = [text[start:end] for start, end in hit.spans]
    assert pieces == block.splitlines()[1:-1]


NEGATIVES = [
    "password = get_password()",
    "password = self.password",
    "password = os.environ['DB_PASSWORD']",
    "password = None",
    'password_field = "password_hash"',
    'token_type = "Bearer"',
    'PASSWORD_PROMPT = "Enter your password: "',
    'password = "${DB_PASSWORD}"',
    'password = "<your-password-here>"',
    'password = "changeme123"',
    'password = "xxxxxxxx"',
    'api_key = "%(api_key)s"',
    'token = "{token}"',
    'password_reset_url = "https://example.org/reset/Xk9p2Lq7"',
    'token = tokenize.generate_tokens(readline)',
    'if token == tokens.NAME:',
    'secret_name = "prod-db-Credentials2"',
    "url = 'postgresql://user:password@localhost/db'",
    "url = 'https://user:${PASSWORD}@host/x'",
    "ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'",
    f"sha256 = '{rand('0123456789abcdef', 64)}'",
    f"checksum: '{rand(ALNUM, 40)}'",
    f"values = ['{rand(ALNUM, 40)}', '{rand(ALNUM, 40)}']",
    "key_id = 'AKIAIOSFODNN7EXAMPLE'",
    "-----BEGIN RSA PRIVATE KEY----- is the header PEM files start with",
    "header = 'eyJub3QganNvbg.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abcdefghijklmnopqrstuv'",
    'def check(password="hunter2"):',  # shorter than 8: not worth an alarm
    "author = 'Guido van Rossum'",
    "passthrough_mode = 'readonly'",
]


@pytest.mark.parametrize("line", NEGATIVES)
def test_no_false_alarm(line: str) -> None:
    assert find_secrets(line + "\n") == []


def test_one_finding_per_value_the_most_specific_rule_wins() -> None:
    hits = find_secrets(f'token = "{GITHUB}"\n')
    assert [h.rule for h in hits] == ["github-token"]


def test_allowlist_pragmas() -> None:
    text = (f"a = '{AWS_ID}'  # pragma: allowlist secret\n"
            "# pragma: allowlist nextline secret\n"
            f"b = '{AWS_ID}'\n"
            f"c = '{AWS_ID}'\n"
            "# pragma: allowlist secret\n"  # the same-line form does not reach the next line
            f"d = '{AWS_ID}'\n")
    assert [h.line for h in find_secrets(text)] == [4, 6]


def test_non_utf8_text_keeps_lines_and_secrets() -> None:
    data = "café = 1\n".encode("latin-1") + b"\xff\xfe\n" + f"k = '{AWS_ID}'\n".encode()
    hits = find_secrets(decode_text(data))
    assert [(h.rule, h.line, h.value) for h in hits] == [("aws-access-key-id", 3, AWS_ID)]
