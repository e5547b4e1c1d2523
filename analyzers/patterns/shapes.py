"""The Mistake Learner's catalogue: each known-risky code shape, and what its fix looks like.

Data only. A shape's ``id`` is what the matcher (:mod:`analyzers.patterns.matcher`)
reports, what a :class:`~analyzers.base.LearnedPattern` and a ``learned:<id>`` rule
name, and so what the log keeps: an id, once released, is never renamed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Shape:
    id: str
    title: str  # what is risky, for a person
    fix: str  # what the fix looks like, for a person
    severity: str  # of the warning on code that still has the shape
    removal_is_fix: bool = False  # deleting it (its function kept) is the fix itself
    cwe: int | None = None  # the weakness it is (bandit's CWE for its own rule of it)


SHAPES: Mapping[str, Shape] = {s.id: s for s in (
    Shape("yaml_load", "yaml.load without a safe loader",
          "use yaml.safe_load( or Loader=yaml.SafeLoader", "medium", cwe=20),
    Shape("subprocess_shell", "subprocess call with shell=True",
          "pass an argument list, without shell=True", "medium", cwe=78),
    Shape("os_system", "os.system/os.popen runs a shell",
          "use subprocess with an argument list", "medium", cwe=78),
    Shape("bare_except", "bare except: catches everything, KeyboardInterrupt included",
          "catch the specific error: except SomeError:", "low", cwe=396),
    Shape("pickle_load", "unpickling runs code from the data",
          "use json.loads(, a format that cannot run code", "medium", cwe=502),
    Shape("eval", "eval( runs arbitrary code",
          "use ast.literal_eval( or json.loads(, or drop eval(", "medium", removal_is_fix=True,
          cwe=95),
    Shape("exec", "exec( runs arbitrary code", "remove exec(", "medium", removal_is_fix=True,
          cwe=95),
    Shape("assert_validation", "assert used to validate arguments (gone under python -O)",
          "raise instead: if not ...: raise ValueError(...)", "low", cwe=703),
    Shape("verify_false", "TLS certificate verification turned off (verify=False)",
          "leave certificate verification on", "medium", cwe=295),
    Shape("weak_hash", "MD5/SHA-1 for security",
          "use hashlib.sha256( (or usedforsecurity=False)", "low", cwe=327),
    Shape("random_token", "random module used for a secret value", "use the secrets module",
          "medium", cwe=330),
    Shape("mktemp", "tempfile.mktemp( races with other processes",
          "use tempfile.mkstemp( or NamedTemporaryFile(", "low", cwe=377),
    Shape("eq_none", "== None instead of is None", "compare with is None", "low"),
)}
