#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The daemon's layers (daemon/meson.build, HACKING.md "Layout"): fails on an
upward #include or an upward use of a symbol.

Every C file of a layer's folder may include, by name, only headers of its own
folder or of the layers below it, and may use no identifier declared in a
header of any other layer (functions, macros, types, enum constants, the names
G_DECLARE_FINAL_TYPE makes). "Below" is the table LAYERS, the same graph the
libraries' declare_dependency() calls draw.

usage: check-layers.py SOURCE_ROOT
"""
import os
import re
import sys

# name: (folder, the layers it uses directly); uses are transitive, as
# meson's dependencies are.
LAYERS = {
    'dbus': ('dbus', []),  # libfotadbus: the generated code and the D-Bus error domain
    'at': ('daemon/at', []),
    'core': ('daemon/core', ['at', 'dbus']),
    'modem': ('daemon/modem', ['at']),
    'neighbours': ('daemon/neighbours', ['core']),
    'jobs': ('daemon/jobs', ['modem', 'core', 'neighbours']),
    'daemon': ('daemon', ['jobs']),
}
# Headers written at build time: which layer makes them.
GENERATED = {'fota-generated.h': 'dbus'}

INCLUDE_RE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"([^"]+)"', re.M)
IDENT_RE = re.compile(r'\b[A-Za-z_][A-Za-z0-9_]*\b')
KEYWORDS = {
    'typedef', 'struct', 'enum', 'union', 'const', 'static', 'inline', 'extern', 'void',
    'char', 'int', 'unsigned', 'signed', 'long', 'short', 'double', 'float', 'volatile',
}


def uses(layer, seen=None):
    """The layers @layer may use: its own and every one below it."""
    seen = set() if seen is None else seen
    if layer not in seen:
        seen.add(layer)
        for below in LAYERS[layer][1]:
            uses(below, seen)
    return seen


def blank(text, start, end):
    """text[start:end] as spaces, its newlines kept (line numbers stay)."""
    return text[:start] + re.sub(r'[^\n]', ' ', text[start:end]) + text[end:]


def strip_code(text):
    """Comments, string and character literals blanked out."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith('/*', i):
            j = text.find('*/', i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r'[^\n]', ' ', text[i:j]))
            i = j
        elif text.startswith('//', i):
            j = text.find('\n', i)
            j = n if j < 0 else j
            out.append(' ' * (j - i))
            i = j
        elif c in '"\'':
            j = i + 1
            while j < n and text[j] != c and text[j] != '\n':
                j += 2 if text[j] == '\\' else 1
            j = min(j + 1, n)
            out.append(c + ' ' * max(j - i - 2, 0) + c)
            i = j
        else:
            out.append(c)
            i += 1
    return ''.join(out)


def strip_bodies(text):
    """Everything between the outermost braces removed."""
    out, depth = [], 0
    for c in text:
        if c == '{':
            depth += 1
        elif c == '}':
            depth -= 1
        elif depth == 0:
            out.append(c)
    return ''.join(out)


def declared(header_text):
    """The identifiers a header declares."""
    code = strip_code(header_text)
    names = set()
    # The preprocessor: macros, then the lines left out of the C.
    for m in re.finditer(r'^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)', code, re.M):
        names.add(m.group(1))
    code = re.sub(r'^[ \t]*#(?:[^\n]*\\\n)*[^\n]*', '', code, flags=re.M)
    # GObject's declaration macros (no semicolon after them).
    for m in re.finditer(r'\bG_DECLARE_(?:FINAL|DERIVABLE)_TYPE\s*\(\s*(\w+)\s*,\s*(\w+)\s*,'
                         r'\s*(\w+)\s*,\s*(\w+)\s*,\s*\w+\s*\)', code):
        type_name, prefix, module, obj = m.groups()
        names |= {type_name, type_name + 'Class', prefix + '_get_type',
                  module + '_' + obj, module + '_IS_' + obj}
    code = re.sub(r'\bG_(?:DECLARE_\w+|DEFINE_AUTOPTR_CLEANUP_FUNC|DEFINE_AUTO_CLEANUP_\w+)'
                  r'\s*\([^)]*\)', ';', code)
    # Enum constants.
    for m in re.finditer(r'\benum\b[^{;]*\{([^}]*)\}', code):
        for item in m.group(1).split(','):
            ident = IDENT_RE.search(item)
            if ident:
                names.add(ident.group(0))
    # Top-level statements: typedefs, tags, functions, variables.
    flat = strip_bodies(code)
    for m in re.finditer(r'\b(?:struct|enum|union)\s+(\w+)', flat):
        names.add(m.group(1))
    for stmt in flat.split(';'):
        stmt = stmt.strip()
        if not stmt:
            continue
        pointer = re.search(r'\(\s*\*\s*(\w+)\s*\)', stmt)
        if stmt.startswith('typedef'):
            if pointer:
                names.add(pointer.group(1))
            else:
                idents = [i for i in IDENT_RE.findall(stmt) if i not in KEYWORDS]
                if idents:
                    names.add(idents[-1])
        elif '(' in stmt and not pointer:
            # a function: the identifier before its parameter list
            m = re.search(r'(\w+)\s*\(', stmt)
            names.add(m.group(1))
        else:
            idents = [i for i in IDENT_RE.findall(stmt.split('[')[0].split('=')[0])
                      if i not in KEYWORDS]
            if pointer:
                names.add(pointer.group(1))
            elif idents:
                names.add(idents[-1])
    return {n for n in names if not n.startswith('G_') and n not in KEYWORDS}


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..')
    errors = []

    files = {}  # layer: [relative paths]
    owner = dict(GENERATED)  # header name: layer
    for layer, (folder, _) in LAYERS.items():
        files[layer] = sorted(os.path.join(folder, f) for f in os.listdir(os.path.join(root, folder))
                              if f.endswith(('.c', '.h')))
        for path in files[layer]:
            name = os.path.basename(path)
            if name.endswith('.h'):
                if name in owner:
                    errors.append(f'{path}: the header name {name} is also in layer {owner[name]}; '
                                  'headers are included by name, so names must be unique')
                owner[name] = layer
    known = {p for paths in files.values() for p in paths}
    for dirpath, _, names in os.walk(os.path.join(root, 'daemon')):
        for name in names:
            path = os.path.relpath(os.path.join(dirpath, name), root)
            if name.endswith(('.c', '.h')) and path not in known:
                errors.append(f'{path}: in no layer (tests/check-layers.py LAYERS, daemon/meson.build)')

    texts = {p: open(os.path.join(root, p), encoding='utf-8').read() for p in known}

    # Who declares what.
    symbols = {}  # identifier: (layer, header path)
    for layer, paths in files.items():
        for path in paths:
            if path.endswith('.h'):
                for name in declared(texts[path]):
                    symbols.setdefault(name, (layer, path))

    for layer, paths in files.items():
        allowed = uses(layer)
        below = ('uses only ' + ', '.join(sorted(allowed - {layer})) if allowed - {layer}
                 else 'uses no other layer')
        for path in paths:
            text = texts[path]
            for m in INCLUDE_RE.finditer(text):
                line = text.count('\n', 0, m.start()) + 1
                name = m.group(1)
                if '/' in name:
                    errors.append(f'{path}:{line}: #include "{name}": by name only, the layers\' '
                                  'include directories say what a layer sees')
                elif name not in owner:
                    errors.append(f'{path}:{line}: #include "{name}": not a header of any layer')
                elif owner[name] not in allowed:
                    errors.append(f'{path}:{line}: #include "{name}" of layer {owner[name]} '
                                  f'({LAYERS[owner[name]][0]}): layer {layer} {below}')
            code = strip_code(text)
            code = INCLUDE_RE.sub('', code)
            reported = set()
            for m in IDENT_RE.finditer(code):
                name = m.group(0)
                if name in symbols and symbols[name][0] not in allowed and name not in reported:
                    reported.add(name)
                    line = code.count('\n', 0, m.start()) + 1
                    errors.append(f'{path}:{line}: uses {name} of layer {symbols[name][0]} '
                                  f'({symbols[name][1]}): layer {layer} {below}')

    for e in errors:
        print(e)
    checked = sum(len(p) for p in files.values())
    print(f'{checked} files in {len(LAYERS)} layers, {len(symbols)} declared names: '
          f'{len(errors)} violation(s)')
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
