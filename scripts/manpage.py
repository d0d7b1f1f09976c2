#!/usr/bin/env python3
"""Writes ztoken(1) in man(7) roff to standard output.

Every part comes from the one place that states it: the commands, options
and environment from the command definitions (the JSON of
`ztoken --experimental-dump-help`, read on standard input), the exit status
from docs/SPEC.md section 8, the examples from the README's tour. Only the
vault's file layout (FILES) is written here.

usage: ztoken --experimental-dump-help | manpage.py VERSION SPEC.md README.md
"""
import json
import re
import sys

# Characters groff's default devices may lack, written in ASCII or as
# groff's own names, so that `groff -man -ww` has nothing to warn about.
REPLACEMENTS = {
    "\u2026": "...", "\u2014": "\\(em", "\u2013": "\\(en", "\u2018": "'", "\u2019": "'",
    "\u201c": '"', "\u201d": '"', "\u00d7": "x", "\u2264": "<=", "\u2265": ">=", "\u2192": "->",
}


def text(s):
    """Escapes running text for roff."""
    s = s.replace("\\", "\\e")
    out = []
    for ch in s:
        if ord(ch) < 128:
            out.append(ch)
        elif ch in REPLACEMENTS:
            out.append(REPLACEMENTS[ch])
        else:
            out.append("\\[u%04X]" % ord(ch))
    s = "".join(out)
    # Options: a real minus, so they can be searched for and copied.
    s = re.sub(r"(?<![\w-])--?(?=[a-zA-Z])", lambda m: m.group(0).replace("-", "\\-"), s)
    return s


def lines(s):
    """Escapes text that becomes whole lines: none may start with . or '."""
    return "\n".join(("\\&" + l if l[:1] in (".", "'") else l) for l in text(s).split("\n"))


def code(s):
    """Text in `backticks` (Markdown) becomes bold."""
    return re.sub(r"`([^`]*)`", r"\\fB\1\\fR", text(s))


def option_head(arg):
    names = ", ".join(("-" if n["kind"] == "short" else "--") + n["name"] for n in arg.get("names", []))
    head = "\\fB" + text(names) + "\\fR"
    if arg["kind"] == "option":
        head += " \\fI" + text(arg.get("valueName", "value")) + "\\fR"
    if arg["kind"] == "positional":
        head = "\\fI" + text(arg.get("valueName", "value")) + "\\fR"
    return head


def usage(name, args):
    parts = ["\\fBztoken " + name + "\\fR"]
    for arg in args:
        if not arg.get("shouldDisplay", True) or arg["preferredName" if arg["kind"] != "positional" else "kind"] is None:
            continue
        if arg["kind"] == "positional":
            piece = "\\fI" + text(arg["valueName"]) + "\\fR" + ("..." if arg.get("isRepeating") else "")
        else:
            pref = arg["preferredName"]
            piece = "\\fB" + text(("-" if pref["kind"] == "short" else "--") + pref["name"]) + "\\fR"
            if arg["kind"] == "option":
                piece += " \\fI" + text(arg.get("valueName", "value")) + "\\fR"
        parts.append("[" + piece + "]" if arg.get("isOptional") else piece)
    return " ".join(parts)


def paragraphs(s):
    return "\n.PP\n".join(lines(p.strip().replace("\n", " ")) for p in s.split("\n\n") if p.strip())


def main():
    version, spec_path, readme_path = sys.argv[1:4]
    root = json.load(sys.stdin)["command"]
    description, _, environment = root.get("discussion", "").partition("ENVIRONMENT:\n")
    out = []
    w = out.append
    w('.TH ZTOKEN 1 "" "ztoken %s" "User Commands"' % text(version.strip()))
    w(".SH NAME")
    w("ztoken \\- " + text(root["abstract"][0].lower() + root["abstract"][1:].rstrip(".")))
    w(".SH SYNOPSIS")
    w(".B ztoken")
    w("[\\fB\\-\\-vault\\fR \\fIdir\\fR]")
    w("[\\fB\\-q\\fR|\\fB\\-\\-quiet\\fR]")
    w("\\fIcommand\\fR [\\fIoptions\\fR] [\\fIarguments\\fR]")
    w(".br")
    w(".B ztoken help")
    w("[\\fIcommand\\fR]")
    w(".SH DESCRIPTION")
    w(paragraphs(description))
    w(".SH COMMANDS")
    for sub in root["subcommands"]:
        if not sub.get("shouldDisplay", True):
            continue
        name = sub["commandName"]
        args = [a for a in sub.get("arguments", []) if a.get("shouldDisplay", True)]
        w('.SS "ztoken %s"' % name)
        w(usage(name, args))
        w(".PP")
        w(lines(sub.get("abstract", "")))
        if sub.get("discussion"):
            w(".PP")
            w(paragraphs(sub["discussion"]))
        for arg in args:
            w(".TP")
            w(option_head(arg))
            about = arg.get("abstract", "")
            if arg.get("discussion"):
                about += " " + arg["discussion"]
            if arg.get("allValues") and arg["kind"] == "option":
                about += " One of: " + ", ".join(arg["allValues"]) + "."
            if "defaultValue" in arg:
                about += " Default: " + arg["defaultValue"] + "."
            w(lines(about.strip()))
    w(".SH EXIT STATUS")
    spec = open(spec_path, encoding="utf-8").read()
    section = re.search(r"^## 8\..*?$(.*?)^## ", spec, re.S | re.M).group(1)
    for row in re.findall(r"^\| (\d+) \| (.*) \|$", section, re.M):
        w(".TP")
        w(".B " + row[0])
        w(code(row[1]))
    w(".SH ENVIRONMENT")
    entries = re.findall(r"^  (\S+)\n      (.*)$", environment, re.M)
    if not entries:
        sys.exit("manpage.py: no ENVIRONMENT list in the top-level discussion")
    for name, meaning in entries:
        w(".TP")
        w(".B " + text(name))
        w(lines(meaning))
    w(".SH FILES")
    for path, meaning in [
        ("~/.local/share/ztoken/", "The vault (see ENVIRONMENT for where else it may be); 0700, one per user."),
        ("VAULT/vault.json", "The vault's metadata: format version, id, user, default server URL, public key."),
        ("VAULT/vault-key.json", "The vault's secret key wrapped by the passphrase (Argon2id), with the KDF "
         "parameters; absent in offline-key mode."),
        ("VAULT/index.json", "The token index: labels, ids, states, digests and last four characters; "
         "never a plaintext token."),
        ("VAULT/records/ID.sealed", "One token, sealed to the vault's public key."),
        ("VAULT/.lock", "The writers' lock; permanent, never removed."),
        ("VAULT.replaced-TIME/", "A vault that restore --force replaced, kept aside until you remove it."),
    ]:
        w(".TP")
        w(".I " + text(path))
        w(lines(meaning))
    w(".SH EXAMPLES")
    readme = open(readme_path, encoding="utf-8").read()
    tour = re.search(r"^## A short tour\n.*?^```console\n(.*?)^```", readme, re.S | re.M)
    if not tour:
        sys.exit("manpage.py: no tour in the README")
    w(".PP")
    w(".nf")
    w(".ft CR")
    w(lines(tour.group(1).rstrip("\n")))
    w(".ft R")
    w(".fi")
    w(".SH SEE ALSO")
    w(".BR age (1),")
    w(".BR age\\-keygen (1),")
    w(".BR pass (1)")
    sys.stdout.write("\n".join(out) + "\n")


main()
