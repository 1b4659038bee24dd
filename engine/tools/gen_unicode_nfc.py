#!/usr/bin/python3
"""Generates engine/src/tokenizer/unicode_nfc_data.cpp: the Unicode tables NFC needs.

The tokenizer applies NFC where a family's Hugging Face tokenizer.json has an NFC normalizer (Qwen).
No ICU: the data comes from Python's unicodedata, offline, and is committed with the Unicode
version it was made from. Three tables, each sorted for binary search:
  - canonical combining classes, as ranges of equal class (class 0 omitted);
  - full canonical decompositions (recursive, Hangul syllables excluded: they are algorithmic);
  - primary composites: (first, second) -> composite, from each one-level canonical decomposition
    of length two whose composite survives NFC (so composition exclusions, singletons and
    non-starter decompositions are left out, as UAX #15 requires).
It also lists the inert code points (NFC_QC=Yes, class 0, never a composition's second) between
which text can be normalised piece by piece. The generator checks its own tables against unicodedata.normalize on every code point before
writing, and fails rather than write a table that disagrees.

Regenerate (the output depends only on the Python's Unicode version, printed in the file):
    /usr/bin/python3 engine/tools/gen_unicode_nfc.py > engine/src/tokenizer/unicode_nfc_data.cpp
"""
import sys
import unicodedata

MAX_CP = 0x10FFFF
S_BASE, S_COUNT = 0xAC00, 11172


def is_surrogate(cp):
    return 0xD800 <= cp <= 0xDFFF


def canonical_decomposition(cp):
    """One-level canonical mapping of cp as code points, or None (compatibility ones are not canonical)."""
    d = unicodedata.decomposition(chr(cp))
    if not d or d.startswith("<"):
        return None
    return [int(x, 16) for x in d.split()]


def full_decomposition(cp):
    one = canonical_decomposition(cp)
    if one is None:
        return [cp]
    out = []
    for c in one:
        out.extend(full_decomposition(c))
    return out


def main():
    ccc_ranges = []  # [start, end, class]
    decomps = []  # (cp, [code points])
    composes = []  # (first, second, composite)
    for cp in range(MAX_CP + 1):
        if is_surrogate(cp):
            continue
        ch = chr(cp)
        c = unicodedata.combining(ch)
        if c:
            if ccc_ranges and ccc_ranges[-1][1] == cp - 1 and ccc_ranges[-1][2] == c:
                ccc_ranges[-1][1] = cp
            else:
                ccc_ranges.append([cp, cp, c])
        if S_BASE <= cp < S_BASE + S_COUNT:
            continue
        one = canonical_decomposition(cp)
        if one is None:
            continue
        full = full_decomposition(cp)
        if full != [cp]:
            decomps.append((cp, full))
        if len(one) == 2 and unicodedata.normalize("NFC", ch) == ch:
            composes.append((one[0], one[1], cp))
    composes.sort()

    # Self-check: every table entry must agree with unicodedata.
    for cp, full in decomps:
        nfd = unicodedata.normalize("NFD", chr(cp))
        # NFD also reorders marks by class; a single character's full decomposition is already ordered.
        if [ord(x) for x in nfd] != full:
            sys.exit(f"decomposition of U+{cp:04X} disagrees with NFD")
    for first, second, comp in composes:
        if unicodedata.normalize("NFC", chr(first) + chr(second)) != chr(comp):
            # The first element may itself need recomposing: check through its NFD form.
            if unicodedata.normalize("NFC", unicodedata.normalize("NFD", chr(first) + chr(second))) != chr(comp):
                sys.exit(f"composition U+{first:04X} U+{second:04X} -> U+{comp:04X} disagrees with NFC")

    # Inert code points: class 0, their own NFC, and never the second of a composition (NFC_QC=Yes).
    # Nothing before such a character can change it, and nothing reorders across it, so NFC works on
    # the stretches between them (plus the inert one in front of a stretch, which may compose).
    seconds = {b for _, b, _ in composes} | set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))
    inert_ranges = []
    for cp in range(MAX_CP + 1):
        if is_surrogate(cp):
            continue
        ch = chr(cp)
        if unicodedata.combining(ch) or cp in seconds or not unicodedata.is_normalized("NFC", ch):
            continue
        if inert_ranges and inert_ranges[-1][1] == cp - 1:
            inert_ranges[-1][1] = cp
        elif inert_ranges and inert_ranges[-1][1] == 0xD7FF and cp == 0xE000:
            inert_ranges[-1][1] = cp  # surrogates never occur in valid UTF-8: bridge them
        else:
            inert_ranges.append([cp, cp])
    assert inert_ranges[0][0] == 0
    quick_bound = inert_ranges[0][1] + 1

    data = []
    entries = []
    for cp, full in decomps:
        entries.append((cp, len(data), len(full)))
        data.extend(full)
    assert len(data) < 65536 and max(len(f) for _, f in decomps) < 256

    w = sys.stdout.write

    def rows(items, per_line):
        for i in range(0, len(items), per_line):
            w("    " + " ".join(items[i:i + per_line]) + "\n")

    w("// GENERATED by engine/tools/gen_unicode_nfc.py from Python's unicodedata; do not edit.\n")
    w(f"// Unicode {unicodedata.unidata_version}: {len(inert_ranges)} inert ranges, {len(ccc_ranges)} combining-class ranges, "
      f"{len(decomps)} canonical decompositions ({len(data)} code points), {len(composes)} primary composites.\n")
    w('#include "tokenizer/unicode_nfc_data.h"\n\n')
    w("namespace moe::unicode::nfc_data {\n\n")
    w(f'const char kUnicodeVersion[] = "{unicodedata.unidata_version}";\n')
    w(f"const char32_t kQuickBound = 0x{quick_bound:X};\n\n")
    w("const CodePointRange kInert[] = {\n")
    rows([f"{{0x{a:X}, 0x{b:X}}}," for a, b in inert_ranges], 6)
    w("};\n")
    w("const size_t kInertCount = sizeof kInert / sizeof kInert[0];\n\n")
    w("const CccRange kCcc[] = {\n")
    rows([f"{{0x{s:X}, 0x{e:X}, {c}}}," for s, e, c in ccc_ranges], 4)
    w("};\n")
    w("const size_t kCccCount = sizeof kCcc / sizeof kCcc[0];\n\n")
    w("const char32_t kDecompData[] = {\n")
    rows([f"0x{x:X}," for x in data], 10)
    w("};\n\n")
    w("const Decomposition kDecomp[] = {\n")
    rows([f"{{0x{cp:X}, {off}, {n}}}," for cp, off, n in entries], 5)
    w("};\n")
    w("const size_t kDecompCount = sizeof kDecomp / sizeof kDecomp[0];\n\n")
    w("const Composition kCompose[] = {\n")
    rows([f"{{0x{a:X}, 0x{b:X}, 0x{c:X}}}," for a, b, c in composes], 4)
    w("};\n")
    w("const size_t kComposeCount = sizeof kCompose / sizeof kCompose[0];\n\n")
    w("}  // namespace moe::unicode::nfc_data\n")


if __name__ == "__main__":
    main()
