#!/usr/bin/python3
# tests/fuzz/smtp/mkcorpus.py — writes the fuzz seed corpus from the golden
# SMTP scripts (tests/smtp/golden/*.in): two option bytes, then the bytes
# the script sends.  Run from the repository root after adding a script.
import glob, os, re

def unescape(s):
    out = bytearray()
    i = 0
    while i < len(s):
        c = s[i]
        if c != '\\':
            out += c.encode()
            i += 1
            continue
        n = s[i + 1]
        if n == 'x':
            out.append(int(s[i + 2:i + 4], 16))
            i += 4
            continue
        out += {'r': b'\r', 'n': b'\n', 't': b'\t', '0': b'\0', '\\': b'\\'}[n]
        i += 2
    return bytes(out)

def stream(path):
    data = bytearray()
    for line in open(path, encoding='utf-8'):
        line = line.rstrip('\n')
        times = 1
        m = re.match(r'!(repeat|fill) (\d+) (.*)', line)
        if m:
            times, line = int(m.group(2)), m.group(3)
            if m.group(1) == 'fill':
                line = 'R: ' + line
        if line == 'C:':
            data += b'\r\n' * times
        elif line.startswith('C: '):
            data += (unescape(line[3:]) + b'\r\n') * times
        elif line.startswith('R: '):
            data += unescape(line[3:]) * times
    return bytes(data)

here = os.path.dirname(os.path.abspath(__file__))
for path in sorted(glob.glob(os.path.join(here, '../../smtp/golden/*.in'))):
    name = os.path.basename(path)[:-3]
    for opt in (0, 5):
        with open(os.path.join(here, 'corpus', '%s-%d' % (name, opt)), 'wb') as f:
            f.write(bytes([opt, 7]) + stream(path))
