"""Which language a file is written in, judged by its name and, failing that, its shebang."""

from __future__ import annotations

import re
from collections.abc import Mapping

OTHER = "Other"

_EXTENSIONS: Mapping[str, tuple[str, ...]] = {
    "Python": (".py", ".pyi", ".pyw", ".pyx", ".pxd"),
    "Jupyter Notebook": (".ipynb",),
    "JavaScript": (".js", ".mjs", ".cjs", ".jsx"),
    "TypeScript": (".ts", ".tsx", ".mts", ".cts"),
    "Java": (".java",),
    "Kotlin": (".kt", ".kts"),
    "Scala": (".scala", ".sc"),
    "Groovy": (".groovy", ".gradle"),
    "C": (".c", ".h"),
    "C++": (".cc", ".cpp", ".cxx", ".c++", ".hpp", ".hh", ".hxx", ".h++", ".ipp"),
    "C#": (".cs", ".csx"),
    "F#": (".fs", ".fsi", ".fsx"),
    "Visual Basic": (".vb",),
    "Go": (".go",),
    "Rust": (".rs",),
    "Swift": (".swift",),
    "Objective-C": (".m", ".mm"),
    "Dart": (".dart",),
    "Ruby": (".rb", ".rake", ".gemspec"),
    "PHP": (".php", ".phtml"),
    "Perl": (".pl", ".pm", ".t"),
    "Lua": (".lua",),
    "R": (".r", ".rmd"),
    "Julia": (".jl",),
    "Elixir": (".ex", ".exs"),
    "Erlang": (".erl", ".hrl"),
    "Haskell": (".hs", ".lhs"),
    "OCaml": (".ml", ".mli"),
    "Clojure": (".clj", ".cljs", ".cljc", ".edn"),
    "Zig": (".zig",),
    "Nim": (".nim",),
    "Solidity": (".sol",),
    "Fortran": (".f", ".for", ".f90", ".f95", ".f03"),
    "Assembly": (".s", ".asm"),
    "Verilog": (".v", ".sv", ".svh"),
    "VHDL": (".vhd", ".vhdl"),
    "Shell": (".sh", ".bash", ".zsh", ".ksh"),
    "Fish": (".fish",),
    "PowerShell": (".ps1", ".psm1", ".psd1"),
    "Batch": (".bat", ".cmd"),
    "SQL": (".sql",),
    "HTML": (".html", ".htm", ".xhtml"),
    "CSS": (".css",),
    "SCSS": (".scss", ".sass"),
    "Less": (".less",),
    "Vue": (".vue",),
    "Svelte": (".svelte",),
    "Markdown": (".md", ".markdown", ".mdx"),
    "reStructuredText": (".rst",),
    "Text": (".txt",),
    "JSON": (".json", ".jsonc", ".json5"),
    "YAML": (".yml", ".yaml"),
    "TOML": (".toml",),
    "XML": (".xml", ".xsd", ".xsl", ".xslt", ".svg", ".plist"),
    "INI": (".ini", ".cfg", ".conf", ".properties"),
    "CSV": (".csv", ".tsv"),
    "Protocol Buffers": (".proto",),
    "GraphQL": (".graphql", ".gql"),
    "Terraform": (".tf", ".tfvars", ".hcl"),
    "Starlark": (".bzl", ".star"),
    "CMake": (".cmake",),
    "Makefile": (".mk", ".mak"),
    "Dockerfile": (".dockerfile",),
}

BY_EXTENSION: Mapping[str, str] = {
    ext: language for language, exts in _EXTENSIONS.items() for ext in exts
}

BY_NAME: Mapping[str, str] = {
    "makefile": "Makefile",
    "gnumakefile": "Makefile",
    "dockerfile": "Dockerfile",
    "containerfile": "Dockerfile",
    "cmakelists.txt": "CMake",
    "rakefile": "Ruby",
    "gemfile": "Ruby",
    "vagrantfile": "Ruby",
    "jenkinsfile": "Groovy",
    "build": "Starlark",
    "build.bazel": "Starlark",
    "workspace": "Starlark",
}

_INTERPRETERS: Mapping[str, str] = {
    "python": "Python",
    "sh": "Shell",
    "bash": "Shell",
    "zsh": "Shell",
    "ksh": "Shell",
    "dash": "Shell",
    "fish": "Fish",
    "node": "JavaScript",
    "deno": "TypeScript",
    "ruby": "Ruby",
    "perl": "Perl",
    "php": "PHP",
    "lua": "Lua",
    "rscript": "R",
    "pwsh": "PowerShell",
}

# "#!/usr/bin/env -S python3.12 -u" -> "python3.12"; "#!/bin/bash" -> "bash"
_SHEBANG = re.compile(rb"#![ \t]*(?:\S*/)?(?:env[ \t]+(?:-\S+[ \t]+)*)?([A-Za-z]+)")


def language_of(path: str, head: bytes = b"") -> str:
    """The language of the file at ``path`` (relative, ``/``-separated); ``head`` is its
    first bytes, consulted only for extension-less scripts."""
    name = path.rsplit("/", 1)[-1].lower()
    by_name = BY_NAME.get(name)
    if by_name is not None:
        return by_name
    if name.startswith(("dockerfile.", "containerfile.")):
        return "Dockerfile"
    dot = name.rfind(".")
    if dot > 0:  # a leading dot is a hidden file's name, not an extension
        found = BY_EXTENSION.get(name[dot:])
        if found is not None:
            return found
    if head.startswith(b"#!"):
        return _from_shebang(head)
    return OTHER


def _from_shebang(head: bytes) -> str:
    match = _SHEBANG.match(head.split(b"\n", 1)[0])
    if match is None:
        return OTHER
    interpreter = match.group(1).decode("ascii").lower()
    return _INTERPRETERS.get(interpreter, OTHER)
