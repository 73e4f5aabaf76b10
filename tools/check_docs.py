#!/usr/bin/env python3
"""Check the documentation's shape and links; run from the repository root, exits 1 on any problem.

- README.md stays a front page: at most 8,192 bytes, opening with the two-commands block.
- docs/src/SUMMARY.md and the files under docs/src/ agree, so the book has no orphan page and no dead entry.
- Every Markdown link in README.md, docs/ and the other Markdown files of the repository is relative and resolves
  to a file or folder inside the repository (and, for `page.md#anchor`, to a heading of that page). A link that
  leaves the repository rots where nobody runs this check; one to a localhost example is not a reference, so it
  is allowed.

Repository paths written in `code` spans must exist too: the docs are where a newcomer finds the code, and a file
named by its old place sends them nowhere.

Standard library only, so it runs wherever Python 3 does.
"""

import glob
import os
import re
import subprocess
import sys
import unicodedata
from urllib.parse import unquote

README_LIMIT = 8192
BOOK_SRC = os.path.join("docs", "src")
SUMMARY = os.path.join(BOOK_SRC, "SUMMARY.md")

# `](target)` or `](target "title")`, as inline links and images write it.
INLINE_LINK = re.compile(r"\]\(\s*<?([^)\s>]*)>?(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
# `[label]: target` reference definitions.
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$")
# `<https://…>` autolinks.
AUTOLINK = re.compile(r"<([a-zA-Z][a-zA-Z0-9+.-]*:[^>\s]+)>")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
LOCAL_EXAMPLE = re.compile(r"^(?:https?|wss?)://(?:127\.0\.0\.1|localhost|\[::1\])(?:[:/]|$)")
FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
TOP_LEVEL = ("app", "bench", "docs", "end2end", "frontend", "fuzz", "lessons", "loadtest", "protocol", "public",
             "server", "style", "tools")


def markdown_files(root):
    """README.md, everything under docs/, and every other Markdown file git knows of or would add."""
    found = set()
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", "--", "*.md"],
            cwd=root, capture_output=True, check=True,
        ).stdout.decode()
        found.update(p for p in listed.split("\0") if p and os.path.isfile(os.path.join(root, p)))
    except (OSError, subprocess.CalledProcessError):
        for base, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d not in (".git", "target", "node_modules")]
            found.update(os.path.relpath(os.path.join(base, f), root) for f in files if f.endswith(".md"))
    for base, _, files in os.walk(os.path.join(root, "docs")):
        found.update(os.path.relpath(os.path.join(base, f), root) for f in files if f.endswith(".md"))
    if os.path.isfile(os.path.join(root, "README.md")):
        found.add("README.md")
    return sorted(p.replace(os.sep, "/") for p in found)


def outside_fences(text):
    """(line number, line) for every line outside fenced code blocks: a fence's content is code, not links."""
    fence = None
    for number, line in enumerate(text.split("\n"), 1):
        match = FENCE.match(line)
        if fence is None and match:
            fence = match.group(1)
        elif fence is not None:
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
                fence = None
        else:
            yield number, line


def prose_lines(text):
    """Lines outside fences with code spans blanked, so `](x)` inside code is not taken for a link."""
    for number, line in outside_fences(text):
        yield number, CODE_SPAN.sub(lambda m: " " * len(m.group(0)), line)


def code_spans(text):
    for number, line in outside_fences(text):
        for span in CODE_SPAN.finditer(line):
            yield number, span.group(2).strip()


def links(text):
    for number, line in prose_lines(text):
        for match in INLINE_LINK.finditer(line):
            yield number, match.group(1)
        match = REFERENCE_LINK.match(line)
        if match:
            yield number, match.group(1)
        for match in AUTOLINK.finditer(line):
            yield number, match.group(1)


def slug(heading):
    """The anchor a forge and mdBook both give a heading: lower case, punctuation dropped, spaces to dashes."""
    heading = re.sub(r"[`*_]|<[^>]+>", "", heading).strip().lower()
    kept = "".join(c for c in heading if c in " -_" or unicodedata.category(c)[0] in "LN")
    return kept.replace(" ", "-")


def anchors(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    seen = {}
    result = set(re.findall(r"<a\s+(?:name|id)=\"([^\"]+)\"", text))
    for _, line in outside_fences(text):
        match = re.match(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            result.add(base if count == 0 else f"{base}-{count}")
    return result


def check_readme(root, problems):
    path = os.path.join(root, "README.md")
    if not os.path.isfile(path):
        problems.append("README.md: missing")
        return
    size = os.path.getsize(path)
    if size > README_LIMIT:
        problems.append(f"README.md: {size} bytes, over the {README_LIMIT}-byte limit; move detail into docs/src/")
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    opening = lines[:4] + [""] * (4 - len(lines[:4]))
    if (opening[0] != "```sh" or not opening[1].startswith("./lab run") or not opening[2].startswith("./lab test")
            or not opening[3].startswith("```")):
        problems.append("README.md: must open with the two-commands block: a ```sh line, then `./lab run …`, "
                        "then `./lab test …`, then the closing ```")


def check_summary(root, problems):
    summary = os.path.join(root, SUMMARY)
    if not os.path.isfile(summary):
        problems.append(f"{SUMMARY}: missing")
        return
    with open(summary, encoding="utf-8") as f:
        text = f.read()
    listed = set()
    # Whether each entry exists is checked with every other link; here, only that every page has an entry.
    for _, target in links(text):
        if not target or SCHEME.match(target):
            continue
        page = os.path.normpath(os.path.join(BOOK_SRC, unquote(target.split("#")[0])))
        listed.add(page)
    for base, _, files in os.walk(os.path.join(root, BOOK_SRC)):
        for name in files:
            page = os.path.normpath(os.path.relpath(os.path.join(base, name), root))
            if name.endswith(".md") and page != os.path.normpath(SUMMARY) and page not in listed:
                problems.append(f"{page}: not listed in {SUMMARY}")


def check_links(root, files, problems):
    real_root = os.path.realpath(root)
    anchor_cache = {}
    for rel in files:
        with open(os.path.join(root, rel), encoding="utf-8") as f:
            text = f.read()
        for number, target in links(text):
            where = f"{rel}:{number}"
            if not target:
                problems.append(f"{where}: empty link target")
                continue
            if SCHEME.match(target):
                if not LOCAL_EXAMPLE.match(target):
                    problems.append(f"{where}: {target} points outside the repository; link a file in it instead")
                continue
            if target.startswith("#"):
                path_part, anchor = rel, target[1:]
            else:
                if target.startswith("/"):
                    problems.append(f"{where}: {target} is absolute; write it relative to {rel}")
                    continue
                path_part, _, anchor = target.partition("#")
                path_part = os.path.join(os.path.dirname(rel), unquote(path_part.split("?")[0]))
            resolved = os.path.realpath(os.path.join(root, path_part))
            if os.path.commonpath([real_root, resolved]) != real_root:
                problems.append(f"{where}: {target} resolves outside the repository")
                continue
            if not os.path.exists(resolved):
                missing = os.path.relpath(resolved, real_root)
                if os.path.normpath(rel) == os.path.normpath(SUMMARY):
                    problems.append(f"{where}: lists {target}, which does not exist ({missing})")
                else:
                    problems.append(f"{where}: {target} does not exist ({missing})")
                continue
            if anchor and resolved.endswith(".md") and os.path.isfile(resolved):
                if resolved not in anchor_cache:
                    anchor_cache[resolved] = anchors(resolved)
                if unquote(anchor).lower() not in anchor_cache[resolved]:
                    problems.append(f"{where}: {target}: no heading with the anchor #{anchor}")


def expand_braces(path):
    match = re.search(r"\{([^{}]*)\}", path)
    if not match:
        return [path]
    return [expanded
            for choice in match.group(1).split(",")
            for expanded in expand_braces(path[:match.start()] + choice.strip() + path[match.end():])]


def code_path_warnings(root, files):
    warnings = []
    for rel in files:
        with open(os.path.join(root, rel), encoding="utf-8") as f:
            text = f.read()
        for number, span in code_spans(text):
            if not re.fullmatch(r"[\w.{},*/-]+", span) or "/" not in span or span.split("/")[0] not in TOP_LEVEL:
                continue
            for candidate in expand_braces(span):
                if not glob.glob(os.path.join(root, candidate)):
                    warnings.append(f"{rel}:{number}: `{span}`: {candidate} does not exist")
    return warnings


def check_lesson_sources(root, problems):
    """A lesson's source that is a repository file (not a page of the lab, not a web address) must exist."""
    import tomllib

    folder = os.path.join(root, "lessons")
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".toml"):
            continue
        with open(os.path.join(folder, name), "rb") as file:
            lesson = tomllib.load(file)
        for source in lesson.get("references", []):
            url = source.get("url", "")
            if url and not url.startswith(("/", "http://", "https://")) and not os.path.exists(os.path.join(root, url)):
                problems.append(f"lessons/{name}: source `{url}` is not a file of the repository")


def main(argv):
    root = os.getcwd()
    if not os.path.isfile(os.path.join(root, "lab")) or not os.path.isdir(os.path.join(root, "docs")):
        print("check_docs: run from the repository root (where `lab` and `docs/` are)", file=sys.stderr)
        return 2
    files = markdown_files(root)
    problems = []
    check_readme(root, problems)
    check_summary(root, problems)
    check_links(root, files, problems)
    check_lesson_sources(root, problems)
    # A file path the docs name in backticks must exist: the docs are where a newcomer finds the code.
    problems.extend(code_path_warnings(root, files))
    if problems:
        for problem in problems:
            print(f"check_docs: {problem}", file=sys.stderr)
        print(f"check_docs: {len(problems)} problem(s) in {len(files)} Markdown files", file=sys.stderr)
        return 1
    size = os.path.getsize(os.path.join(root, "README.md"))
    print(f"check_docs: ok: {len(files)} Markdown files, README.md {size} of {README_LIMIT} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
