#!/usr/bin/env python3
"""Second engine for the service decoder's banner matching (tests/e2e/abstractions.rs).

Reads nmap's nmap-service-probes with its own parser and matches banners with Python's `re`
(bytes patterns, nmap's `i` and `s` flags), in the order the service decoder documents: for a
banner the server sent first, the NULL probe; then the probes whose `ports`/`sslports` name the
port; then the rest, in file order (probes of the banner's transport only). The first `match`
line wins, else the first `softmatch`. Version info gets $1..$9, $P(), $SUBST() and $I().

Usage: nmap_match.py PROBES SKIP INPUT
  SKIP: file of line numbers (one per line) to leave out: the lines the decoder's engine cannot
        take, so that both engines run the same lines.
  INPUT: JSON lines {"transport", "port", "server_first", "banner_hex"}
Prints one JSON line per input line: {"name", "product", "version", "line", "probe", "soft"}
(all null when nothing matches).
"""
import json
import re
import sys
import warnings

warnings.simplefilter("ignore")


def delimited(s, i):
    """The text between s[i] (a delimiter) and its next occurrence: (text, index after)."""
    d = s[i]
    j = s.index(d, i + 1)
    return s[i + 1 : j], j + 1


def parse(path):
    probes = []
    with open(path, "rb") as f:
        for no, raw in enumerate(f, 1):
            line = raw.rstrip(b"\n").rstrip(b"\r")
            if not line or line.startswith(b"#"):
                continue
            word, _, rest = line.partition(b" ")
            if word == b"Probe":
                parts = rest.split(b" ", 2)
                q = parts[2] if len(parts) > 2 else b""
                probes.append({"transport": parts[0].decode(), "name": parts[1].decode(), "null": q.startswith(b"q||"), "ports": [], "lines": []})
            elif word in (b"ports", b"sslports") and probes:
                for p in rest.decode().split(","):
                    p = p.strip()
                    if "-" in p:
                        a, b = p.split("-")
                        probes[-1]["ports"].append((int(a), int(b)))
                    elif p:
                        probes[-1]["ports"].append((int(p), int(p)))
            elif word in (b"match", b"softmatch") and probes:
                service, _, rest = rest.partition(b" ")
                rest = rest.lstrip()
                if not rest.startswith(b"m"):
                    continue
                pattern, i = delimited(rest, 1)
                flags = 0
                while i < len(rest) and rest[i : i + 1] in (b"i", b"s"):
                    flags |= re.I if rest[i : i + 1] == b"i" else re.S
                    i += 1
                info = {}
                cpes = []
                while i < len(rest):
                    if rest[i : i + 1].isspace():
                        i += 1
                        continue
                    if rest.startswith(b"cpe:", i):
                        v, i = delimited(rest, i + 4)
                        cpes.append(v)
                        if rest[i : i + 1] == b"a":
                            i += 1
                        continue
                    letter = rest[i : i + 1]
                    v, i = delimited(rest, i + 1)
                    info[letter.decode()] = v
                # PCRE's \Z allows a final newline; Python's does not.
                pattern = pattern.replace(b"\\Z", b"(?=\\n?\\Z)")
                probes[-1]["lines"].append({"no": no, "service": service.decode(), "pattern": pattern, "flags": flags, "info": info, "soft": word == b"softmatch", "re": None})
    return probes


def group(m, n):
    try:
        g = m.group(n)
    except (IndexError, re.error):
        return b""
    return g or b""


HELPER = re.compile(rb'\$(P|SUBST|I)\(([^)]*)\)|\$(\d)')


def substitute(t, m):
    def repl(h):
        if h.group(3) is not None:
            return group(m, int(h.group(3)))
        name = h.group(1).decode()
        args = [a.strip().strip(b'"') for a in h.group(2).split(b",")]
        g = group(m, int(args[0]))
        if name == "P":
            return bytes(c for c in g if 0x20 <= c < 0x7F)
        if name == "SUBST":
            return g.replace(args[1], args[2]) if args[1] else g
        if name == "I" and len(g) <= 8:
            return str(int.from_bytes(g, "little" if args[1] == b"<" else "big")).encode()
        return b""

    return HELPER.sub(repl, t).decode("utf-8", "replace")


def order(probes, transport, port, server_first):
    mine = [i for i, p in enumerate(probes) if p["transport"].lower() == transport.lower()]
    out = []
    if server_first:
        out += [i for i in mine if probes[i]["null"]]
    out += [i for i in mine if i not in out and any(a <= port <= b for a, b in probes[i]["ports"])]
    out += [i for i in mine if i not in out]
    return out


def identify(probes, skip, transport, port, server_first, banner):
    soft = None
    for i in order(probes, transport, port, server_first):
        for l in probes[i]["lines"]:
            if l["no"] in skip or (l["soft"] and soft):
                continue
            if l["re"] is None:
                try:
                    l["re"] = re.compile(l["pattern"], l["flags"])
                except re.error:
                    l["re"] = False
            if not l["re"]:
                continue
            m = l["re"].search(banner)
            if not m:
                continue
            found = {
                "name": l["service"],
                "product": substitute(l["info"].get("p", b""), m),
                "version": substitute(l["info"].get("v", b""), m),
                "line": l["no"],
                "probe": probes[i]["name"],
                "soft": l["soft"],
            }
            if not l["soft"]:
                return found
            soft = found
    return soft or {"name": None, "product": None, "version": None, "line": None, "probe": None, "soft": None}


def main():
    probes = parse(sys.argv[1])
    with open(sys.argv[2]) as f:
        skip = {int(x) for x in f.read().split()}
    with open(sys.argv[3]) as f:
        for line in f:
            q = json.loads(line)
            r = identify(probes, skip, q["transport"], q["port"], q["server_first"], bytes.fromhex(q["banner_hex"]))
            print(json.dumps(r))


if __name__ == "__main__":
    main()
