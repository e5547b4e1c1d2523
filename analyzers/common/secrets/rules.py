"""The secret rules: token formats of the common services, and how to tell a value is a secret.

Each :class:`TokenRule` matches one issuer's documented format, anchored on its
fixed prefix, so it needs no context and produces few false alarms. What has no
format of its own (passwords, generic API keys, random strings) is found by the
context rules in :mod:`analyzers.common.secrets.find`, which use the value tests below.
The formats follow the issuers' documentation and the rule sets of gitleaks and
detect-secrets; the regular expressions are our own.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Severity = Literal["critical", "high", "medium", "low"]
Confidence = Literal["high", "medium", "low"]


@dataclass(frozen=True)
class TokenRule:
    """A secret with a recognisable format; group ``secret`` of ``pattern`` is the value."""

    id: str
    title: str
    pattern: re.Pattern[str]
    anchors: tuple[str, ...]  # the rule runs only on text containing one of these
    severity: Severity = "high"
    confidence: Confidence = "high"
    check: Callable[[str], bool] | None = None  # a value test beyond the pattern


def _jwt_header_ok(value: str) -> bool:
    """A JWT's first part is base64url JSON naming an algorithm."""
    head = value.split(".", 1)[0]
    try:
        decoded = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))
        header = json.loads(decoded)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return False
    return isinstance(header, dict) and "alg" in header


def _not_example(value: str) -> bool:
    return not is_placeholder(value)


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


TOKEN_RULES: tuple[TokenRule, ...] = (
    TokenRule("aws-access-key-id", "AWS access key ID",
              _rx(r"(?<![A-Z0-9])(?P<secret>(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})(?![A-Z0-9])"),
              ("AKIA", "ASIA", "ABIA", "ACCA"), check=_not_example),
    TokenRule("aws-secret-access-key", "AWS secret access key",
              _rx(r"(?i:aws)[\w.\-]{0,20}(?i:secret)[\w.\-]{0,20}[\"'\]]?[ \t]*(?::=|=>|=|:)"
                  r"[ \t]*[\"']?(?P<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"),
              ("aws", "AWS", "Aws"), check=_not_example),
    TokenRule("gcp-api-key", "Google Cloud API key",
              _rx(r"(?<![\w-])(?P<secret>AIza[0-9A-Za-z_\-]{35})(?![\w-])"), ("AIza",)),
    TokenRule("gcp-oauth-client-secret", "Google OAuth client secret",
              _rx(r"(?<![\w-])(?P<secret>GOCSPX-[0-9A-Za-z_\-]{28})(?![\w-])"), ("GOCSPX-",)),
    TokenRule("azure-storage-account-key", "Azure storage account key",
              _rx(r"(?i:AccountKey)[ \t]*=[ \t]*(?P<secret>[A-Za-z0-9+/]{86}==)"),
              ("AccountKey", "accountkey", "ACCOUNTKEY")),
    TokenRule("azure-ad-client-secret", "Azure AD client secret",
              _rx(r"(?<![\w~.-])(?P<secret>[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.\-]{31,34})"
                  r"(?![\w~.-])"), ("Q~",)),
    TokenRule("github-token", "GitHub token",
              _rx(r"(?<![\w])(?P<secret>gh[pousr]_[A-Za-z0-9]{36,251})(?![\w])"),
              ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")),
    TokenRule("github-fine-grained-token", "GitHub fine-grained token",
              _rx(r"(?<![\w])(?P<secret>github_pat_[A-Za-z0-9_]{82})(?![\w])"), ("github_pat_",)),
    TokenRule("gitlab-token", "GitLab token",
              _rx(r"(?<![\w-])(?P<secret>gl(?:pat|dt|rt|ptt|cbt)-[A-Za-z0-9_\-]{20,50})(?![\w-])"),
              ("glpat-", "gldt-", "glrt-", "glptt-", "glcbt-")),
    TokenRule("slack-token", "Slack token",
              _rx(r"(?<![\w-])(?P<secret>xox[abposr]-(?:\d+-)+[A-Za-z0-9\-]{10,})(?![\w-])"),
              ("xoxb-", "xoxa-", "xoxp-", "xoxo-", "xoxs-", "xoxr-")),
    TokenRule("slack-webhook", "Slack incoming webhook",
              _rx(r"https://hooks\.slack\.com/(?:services|workflows)/"
                  r"(?P<secret>T[A-Z0-9]{6,12}/[AB][A-Z0-9]{6,12}/[A-Za-z0-9]{20,})"),
              ("hooks.slack.com",)),
    TokenRule("stripe-secret-key", "Stripe secret key",
              _rx(r"(?<![\w])(?P<secret>(?:sk|rk)_live_[A-Za-z0-9]{20,247})(?![\w])"),
              ("sk_live_", "rk_live_")),
    TokenRule("stripe-test-key", "Stripe test secret key",
              _rx(r"(?<![\w])(?P<secret>(?:sk|rk)_test_[A-Za-z0-9]{20,247})(?![\w])"),
              ("sk_test_", "rk_test_"), severity="medium"),
    TokenRule("twilio-api-key", "Twilio API key",
              _rx(r"(?<![\w])(?P<secret>SK[0-9a-f]{32})(?![\w])"), ("SK",), confidence="medium"),
    TokenRule("npm-token", "npm access token",
              _rx(r"(?<![\w])(?P<secret>npm_[A-Za-z0-9]{36})(?![\w])"), ("npm_",)),
    TokenRule("pypi-token", "PyPI upload token",
              _rx(r"(?<![\w-])(?P<secret>pypi-AgE(?:IcHlwaS5vcmc|NdGVzdC5weXBpLm9yZw)"
                  r"[A-Za-z0-9_\-]{50,})(?![\w-])"), ("pypi-AgE",)),
    TokenRule("openai-api-key", "OpenAI API key",
              _rx(r"(?<![\w-])(?P<secret>sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}"
                  r"T3BlbkFJ[A-Za-z0-9_\-]{20,})(?![\w-])"), ("T3BlbkFJ",)),
    TokenRule("anthropic-api-key", "Anthropic API key",
              _rx(r"(?<![\w-])(?P<secret>sk-ant-(?:api|admin)\d{2}-[A-Za-z0-9_\-]{80,120})"
                  r"(?![\w-])"), ("sk-ant-",)),
    TokenRule("sendgrid-api-key", "SendGrid API key",
              _rx(r"(?<![\w])(?P<secret>SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})(?![\w-])"),
              ("SG.",)),
    TokenRule("mailgun-api-key", "Mailgun API key",
              _rx(r"(?<![\w-])(?P<secret>key-[0-9a-f]{32})(?![\w-])"), ("key-",),
              confidence="medium"),
    TokenRule("telegram-bot-token", "Telegram bot token",
              _rx(r"(?<![\w:])(?P<secret>\d{8,10}:AA[A-Za-z0-9_\-]{33})(?![\w-])"), (":AA",)),
    TokenRule("jwt", "JSON Web Token",
              _rx(r"(?<![\w-])(?P<secret>eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}"
                  r"\.[A-Za-z0-9_\-]{16,})(?![\w-])"), ("eyJ",), check=_jwt_header_ok),
)

PRIVATE_KEY_RULE = "private-key"
PRIVATE_KEY_TITLE = "Private key"
BASIC_AUTH_RULE = "basic-auth-url"
BASIC_AUTH_TITLE = "Password in a URL"
KEYWORD_RULE = "hardcoded-password"
KEYWORD_TITLE = "Hard-coded password or secret"
ENTROPY_B64_RULE = "high-entropy-base64"
ENTROPY_HEX_RULE = "high-entropy-hex"
ENTROPY_TITLE = "High-entropy string"

RULE_TITLES: dict[str, str] = {
    **{rule.id: rule.title for rule in TOKEN_RULES},
    PRIVATE_KEY_RULE: PRIVATE_KEY_TITLE,
    BASIC_AUTH_RULE: BASIC_AUTH_TITLE,
    KEYWORD_RULE: KEYWORD_TITLE,
    ENTROPY_B64_RULE: ENTROPY_TITLE + " (base64)",
    ENTROPY_HEX_RULE: ENTROPY_TITLE + " (hex)",
}

# --- value tests ----------------------------------------------------------------

_PLACEHOLDER_WORDS = (
    "example", "sample", "changeme", "change_me", "change-me", "placeholder", "dummy",
    "redacted", "your_", "your-", "yourpass", "xxxx", "****", "....", "todo", "fixme",
    "secret_here", "password_here", "insert", "replace", "fake", "notasecret", "not_a_secret",
)
_TEMPLATE = re.compile(
    r"^(?:\$\{?[A-Za-z_][\w.]*\}?|\$\([^)]*\)|%\(?\w*\)?[sdr]|\{\{.*\}\}|\{[\w.]*\}|<[^<>]*>|"
    r"%[A-Za-z_]\w*%|@[A-Za-z_]\w*@|\[\w+\])$")
_TEMPLATE_INSIDE = re.compile(
    r"\$\{|\{\{|%\(|%[-#0 +]?\d*(?:\.\d+)?[sdifrxX]|\{\}|\{\d\}|\{[a-z_]+(?::[^}]*)?\}")
_WORDS = re.compile(r"^[A-Za-z]+(?:[_.\- ][A-Za-z]+)*$")
_CODE = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*(?:\(|\[|$)")


def is_placeholder(value: str) -> bool:
    """Templates, environment references and the stock words of documentation."""
    lowered = value.lower()
    if _TEMPLATE.match(value) or _TEMPLATE_INSIDE.search(value):
        return True
    if any(word in lowered for word in _PLACEHOLDER_WORDS):
        return True
    return len(set(value)) <= 2  # "xxxxxxxx", "********", "00000000"


def char_classes(value: str) -> int:
    return (any(c.islower() for c in value) + any(c.isupper() for c in value)
            + any(c.isdigit() for c in value) + any(not c.isalnum() for c in value))


def looks_like_password(value: str, *, quoted: bool) -> bool:
    """Could this value, given to a password/secret/token key, be the secret itself?

    Not: words and identifiers (``"password_hash"``, ``"Bearer"``, ``self.pw``),
    code (``get_password()``), templates and placeholders, prose (has spaces),
    paths and URLs, or short values. Yes: ``hunter22``, ``!Xk9#pL2qz`` (a leading
    symbol is fine), ``wJalrXUtnFEMI/K7MDENG``.
    """
    if not 8 <= len(value) <= 256 or any(c.isspace() for c in value):
        return False
    if not quoted and (_CODE.match(value) or value[0] in "([{"):
        return False
    if _WORDS.match(value) or is_placeholder(value):
        return False
    if "://" in value or (value.count("/") >= 2 and not re.search(r"[A-Za-z0-9]{16}", value)):
        return False
    if value.startswith(("<", "&", "#{")):  # markup and references
        return False
    return char_classes(value) >= 2


def shannon_entropy(value: str) -> float:
    if not value:
        return 0.0
    counts: dict[str, int] = {}
    for char in value:
        counts[char] = counts.get(char, 0) + 1
    length = len(value)
    return -sum(n / length * math.log2(n / length) for n in counts.values())


def is_sequence(value: str) -> bool:
    """Alphabets and counting runs (``ABCDEF...``, ``0123456789``), not random strings."""
    if len(value) < 2:
        return False
    steps = sum(1 for a, b in itertools.pairwise(value) if ord(b) - ord(a) == 1)
    return steps >= (len(value) - 1) * 0.4
