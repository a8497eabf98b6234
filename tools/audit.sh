#!/usr/bin/env bash
# tools/audit.sh: a repeatable bad-input and fault audit of the pipnet program.
#
#   tools/audit.sh PATH/TO/pipnet [OUTDIR]        (OUTDIR default /tmp/pipnet-audit; it is wiped if it holds an
#                                                  earlier audit, refused if it holds anything else)
#
# Needs bash, coreutils (timeout, sha256sum) and python3 (standard library only: the fixtures -- PNG, BMP, PGM/PPM,
# a baseline JPEG, 300W .pts, list and WFLW files, mutated safetensors -- are written by hand). Root is needed only
# for the disk-full cases (a small tmpfs); without it they are reported as SKIP. Takes a few minutes on 2 cores.
#
# It first makes tiny valid fixtures (a trained run: width 4, 64x64, 1 epoch on synth:32), then runs every case
# with `timeout 60`, in its own folder OUTDIR/cases/NNN-name (stdout, stderr and rc are kept there). Each case
# states what it expects -- an error (most cases) or success (valid but odd inputs) -- and the outcome is classed:
#   clear         expected error: exit 2 and one line on stderr that names the file/field/flag at fault (each case
#                 gives a pattern the line must match) and is not a raw library message (stoi, stod, std::...)
#   ok            expected success, and it succeeded (and its after-check, if any, passed)
#   unclear       expected error, exit 2 (or another non-signal code), but the message is missing, several lines,
#                 raw, or does not name the thing at fault
#   crash         killed by a signal / exit >= 128 / sanitizer or "terminate called" report
#   hang          ran into the 60 s timeout
#   silent-wrong  exit 0 although the input was bad, or a wrong result (an after-check failed)
#   data-lost     a file that must survive (config.txt, meanface.txt, test.json, checkpoint, ...) was changed,
#                 truncated or removed by a command that failed, or a fault left a partial .tmp file behind
#   spurious      a valid input was refused
#   SKIP          the case cannot be run here (said why)
# The classes are tried in this order: hang, crash, data-lost (only when the command failed), spurious / silent-wrong
# (exit status against the expectation), the case's after-check, then clear / unclear from the message.
# Info lines (training ..., resuming ..., progress bars, wrote ...) are not counted as error lines; the line shown
# after '|' is the first remaining stderr line. The last lines are the count per class and one machine-readable
# line:  AUDIT-SUMMARY cases=N clear=.. ok=.. unclear=.. crash=.. hang=.. silent-wrong=.. data-lost=.. spurious=.. skip=..
# OUTDIR/results.tsv holds one row per case. Exit status: 0 when every case is clear, ok or SKIP, else 1.
# To add a case: `c NAME err|ok 'REGEX' CMD...` (see c() below); PROTECT=, POST= before it add the file and
# after-checks.
set -u
shopt -s lastpipe   # cases fed by a pipe ( ... | pts_case ...) must count in this shell
if [ $# -lt 1 ] || [ ! -x "$1" ]; then echo "usage: $0 PATH/TO/pipnet [OUTDIR]" >&2; exit 2; fi
P=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
OUT=${2:-/tmp/pipnet-audit}
if [ -e "$OUT" ]; then
  if [ -e "$OUT/.pipnet-audit" ]; then
    mountpoint -q "$OUT/fault/full" 2>/dev/null && umount "$OUT/fault/full"
    chmod -R u+rwX "$OUT" 2>/dev/null; rm -rf "$OUT"
  elif [ -n "$(ls -A "$OUT")" ]; then echo "$OUT exists and is not an earlier audit's folder; give another OUTDIR" >&2; exit 2; fi
fi
mkdir -p "$OUT/cases" "$OUT/fx" "$OUT/runs" "$OUT/fault" && touch "$OUT/.pipnet-audit"
OUT=$(cd "$OUT" && pwd)
trap 'mountpoint -q "$OUT/fault/full" 2>/dev/null && umount "$OUT/fault/full"' EXIT   # never leave the tmpfs mounted
FX=$OUT/fx
TMO=60
export OMP_NUM_THREADS=2
T0=$(date +%s)

# ---- the fixture maker and safetensors mutator (python3 standard library) ----------------------------------------
PY=$FX/helper.py
PYX=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) || { echo "python3 is needed" >&2; exit 2; }  # not a slow shim
cat > "$PY" <<'PYEOF'
#!/usr/bin/env python3
# Fixture maker and safetensors mutator for tools/audit.sh (python3 standard library only).
import json, math, os, struct, sys, zlib

def png(path, w, h, rgb):
    raw = b''.join(b'\x00' + bytes(rgb[y * w * 3:(y + 1) * w * 3]) for y in range(h))
    def chunk(t, d):
        return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
    open(path, 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)) +
                           chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))

def png_header_only(path, w, h):
    def chunk(t, d):
        return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
    open(path, 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)) +
                           chunk(b'IDAT', zlib.compress(b'\x00' * 64)) + chunk(b'IEND', b''))

def bmp(path, w, h, rgb):
    row = (w * 3 + 3) & ~3
    data = b''
    for y in range(h - 1, -1, -1):
        r = b''.join(bytes((rgb[(y * w + x) * 3 + 2], rgb[(y * w + x) * 3 + 1], rgb[(y * w + x) * 3])) for x in range(w))
        data += r + b'\x00' * (row - w * 3)
    hdr = struct.pack('<2sIHHI', b'BM', 54 + len(data), 0, 0, 54)
    info = struct.pack('<IiiHHIIiiII', 40, w, h, 1, 24, 0, len(data), 2835, 2835, 0, 0)
    open(path, 'wb').write(hdr + info + data)

def pnm(path, w, h, rgb, gray):
    if gray:
        open(path, 'wb').write(b'P5\n%d %d\n255\n' % (w, h) + bytes(rgb[0::3]))
    else:
        open(path, 'wb').write(b'P6\n%d %d\n255\n' % (w, h) + bytes(rgb))

def jpeg_gray_flat(path, w, h):
    # Baseline grayscale JPEG of a flat mid-grey image: every 8x8 block is DC diff 0 + EOB. Minimal Huffman tables:
    # DC: one code of length 2 for category 0; AC: one code of length 2 for EOB (0x00). Each block = '00' '00'.
    def seg(marker, d):
        return b'\xff' + bytes([marker]) + struct.pack('>H', len(d) + 2) + d
    out = b'\xff\xd8'
    out += seg(0xe0, b'JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00')
    out += seg(0xdb, b'\x00' + bytes([1] * 64))
    out += seg(0xc0, struct.pack('>BHHB', 8, h, w, 1) + b'\x01\x11\x00')
    bits = bytes([0, 1] + [0] * 14)
    out += seg(0xc4, b'\x00' + bits + b'\x00')          # DC table 0
    out += seg(0xc4, b'\x10' + bits + b'\x00')          # AC table 0: EOB
    out += seg(0xda, b'\x01\x01\x00\x00\x3f\x00')
    nblocks = ((w + 7) // 8) * ((h + 7) // 8)
    nbits = nblocks * 4
    nbytes = (nbits + 7) // 8
    data = bytearray(b'\x00' * nbytes)
    pad = nbytes * 8 - nbits
    if pad:
        data[-1] |= (1 << pad) - 1
    out += bytes(data) + b'\xff\xd9'
    open(path, 'wb').write(out)

def picture(w, h, seed):
    px = []
    for y in range(h):
        for x in range(w):
            px += [(x * 4 + seed * 30) % 256, (y * 4 + seed * 50) % 256, ((x + y) * 2 + seed * 70) % 256]
    return px

def face_points(n, w, h, seed):
    # n points on two ellipses inside the image (a rough face), jittered by the seed
    pts = []
    for i in range(n):
        a = 2 * math.pi * i / n + seed * 0.05
        r = 0.35 if i % 2 == 0 else 0.2
        pts.append((w * (0.5 + r * math.cos(a)) + seed * 0.7, h * (0.5 + r * 1.1 * math.sin(a)) + seed * 0.3))
    return pts

def write_pts(path, pts, n=None):
    with open(path, 'w') as f:
        f.write('version: 1\nn_points: %s\n{\n' % (len(pts) if n is None else n))
        for x, y in pts:
            f.write('%.3f %.3f\n' % (x, y))
        f.write('}\n')

def fixtures(d):
    os.makedirs(d, exist_ok=True)
    W = H = 96
    img = picture(64, 64, 1)
    png(d + '/img.png', 64, 64, img)
    bmp(d + '/img.bmp', 64, 64, img)
    pnm(d + '/img.pgm', 64, 64, img, True)
    pnm(d + '/img.ppm', 64, 64, img, False)
    jpeg_gray_flat(d + '/img.jpg', 64, 64)
    png(d + '/img1x1.png', 1, 1, [10, 20, 30])
    png_header_only(d + '/huge_header.png', 100000, 100000)
    # 300W folder: 4 faces with 68-point .pts files
    os.makedirs(d + '/w300', exist_ok=True)
    for k in range(4):
        png(d + '/w300/face%d.png' % k, W, H, picture(W, H, k))
        write_pts(d + '/w300/face%d.pts' % k, face_points(68, W, H, k))
    # list file with normalised coordinates, and its images (64x64)
    os.makedirs(d + '/listimg', exist_ok=True)
    with open(d + '/list.txt', 'w') as f:
        for k in range(4):
            png(d + '/listimg/l%d.png' % k, 64, 64, picture(64, 64, k))
            f.write('l%d.png ' % k + ' '.join('%.4f %.4f' % (x / W, y / H) for x, y in face_points(68, W, H, k)) + ' \n')
    # WFLW list (98 points, box, 6 attributes, path), images 96x96
    os.makedirs(d + '/wflwimg/sub', exist_ok=True)
    with open(d + '/wflw.txt', 'w') as f:
        for k in range(8):
            png(d + '/wflwimg/sub/w%d.png' % k, W, H, picture(W, H, k))
            coords = ' '.join('%.3f %.3f' % p for p in face_points(98, W, H, k))
            attrs = ' '.join(str((k >> b) & 1) if b < 3 else '0' for b in range(6))
            f.write('%s 10 10 86 86 %s sub/w%d.png\n' % (coords, attrs, k))

# ---- safetensors --------------------------------------------------------------------------------
def st_read(path):
    b = open(path, 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    hdr = json.loads(b[8:8 + n])
    return hdr, b[8 + n:]

def st_write(path, hdr, data, raw_header=None):
    h = raw_header if raw_header is not None else json.dumps(hdr, separators=(',', ':')).encode()
    h += b' ' * ((-len(h)) % 8)
    open(path, 'wb').write(struct.pack('<Q', len(h)) + h + data)

def tensors(hdr):
    return [k for k in hdr if k != '__metadata__']

def nbytes(hdr, k):
    b, e = hdr[k]['data_offsets']
    return e - b

def mutate(src, dst, kind):
    raw = open(src, 'rb').read()
    hdr, data = st_read(src)
    names = tensors(hdr)
    first = names[0]
    if kind == 'empty': open(dst, 'wb').write(b''); return
    if kind == 'short7': open(dst, 'wb').write(raw[:7]); return
    if kind == 'truncated': open(dst, 'wb').write(raw[:len(raw) // 2]); return
    if kind == 'truncated-header': open(dst, 'wb').write(raw[:8 + struct.unpack('<Q', raw[:8])[0] // 2]); return
    if kind == 'hlen-huge': open(dst, 'wb').write(struct.pack('<Q', 2**63 + 5) + raw[8:]); return
    if kind == 'hlen-over': open(dst, 'wb').write(struct.pack('<Q', len(raw)) + raw[8:]); return
    if kind == 'json-garbage': st_write(dst, None, data, b'{"a": nope, ]]'); return
    if kind == 'json-array': st_write(dst, None, data, b'[1, 2, 3]'); return
    if kind == 'json-unterminated': st_write(dst, None, data, b'{"model.x": {"dtype": "F32'); return
    if kind == 'json-empty': st_write(dst, None, data, b''); return
    if kind == 'deep-array': st_write(dst, None, data, b'[' * 100000); return
    if kind == 'deep-object': st_write(dst, None, data, b'{"a":' * 100000); return
    if kind == 'trailing-garbage':
        st_write(dst, None, data, json.dumps(hdr, separators=(',', ':')).encode() + b'}}garbage'); return
    if kind == 'overlap':
        by = {}
        for k in names:
            by.setdefault((hdr[k]['dtype'], nbytes(hdr, k)), []).append(k)
        pair = next(v for v in by.values() if len(v) >= 2)
        hdr[pair[1]]['data_offsets'] = list(hdr[pair[0]]['data_offsets'])
        st_write(dst, hdr, data); return
    if kind == 'past-end':
        last = max(names, key=lambda k: hdr[k]['data_offsets'][1])
        b, e = hdr[last]['data_offsets']
        hdr[last]['data_offsets'] = [b + 64, e + 64]
        st_write(dst, hdr, data); return
    if kind == 'offsets-1e30':
        b, e = hdr[first]['data_offsets']
        hdr[first]['data_offsets'] = [1e30, 1e30 + (e - b)]
        st_write(dst, hdr, data); return
    if kind == 'offsets-negative':
        b, e = hdr[first]['data_offsets']
        hdr[first]['data_offsets'] = [-8, e - b - 8]
        st_write(dst, hdr, data); return
    if kind == 'offsets-strings':
        hdr[first]['data_offsets'] = ['a', 'b']
        st_write(dst, hdr, data); return
    if kind == 'offsets-three':
        hdr[first]['data_offsets'] = hdr[first]['data_offsets'] + [0]
        st_write(dst, hdr, data); return
    if kind == 'offsets-fraction':
        b, e = hdr[first]['data_offsets']
        hdr[first]['data_offsets'] = [b + 0.5, e + 0.5]
        st_write(dst, hdr, data); return
    if kind == 'dtype-f16': hdr[first]['dtype'] = 'F16'; st_write(dst, hdr, data); return
    if kind == 'dtype-garbage': hdr[first]['dtype'] = 'Q99'; st_write(dst, hdr, data); return
    if kind == 'dtype-number': hdr[first]['dtype'] = 7; st_write(dst, hdr, data); return
    if kind == 'shape-negative':
        s = hdr[first]['shape']; hdr[first]['shape'] = [-s[0]] + s[1:]
        st_write(dst, hdr, data); return
    if kind == 'shape-overflow':
        b, _ = hdr[first]['data_offsets']
        hdr[first]['shape'] = [2**62, 4]; hdr[first]['data_offsets'] = [b, b]
        st_write(dst, hdr, data); return
    if kind == 'shape-fraction':
        s = hdr[first]['shape']; hdr[first]['shape'] = [s[0] + 0.5] + s[1:]
        st_write(dst, hdr, data); return
    if kind == 'shape-1e400':
        h = json.dumps(hdr, separators=(',', ':')).encode()
        h = h.replace(('"shape":%s' % json.dumps(hdr[first]['shape'], separators=(',', ':'))).encode(), b'"shape":[1e400]', 1)
        st_write(dst, None, data, h); return
    if kind == 'shape-9dims':
        b, e = hdr[first]['data_offsets']
        hdr[first]['shape'] = [1] * 9 + [ (e - b) // 4 ]
        st_write(dst, hdr, data); return
    if kind == 'missing-tensor':
        del hdr[next(k for k in names if k.endswith('weight'))]
        st_write(dst, hdr, data); return
    if kind == 'wrong-shape':
        k = next(k for k in names if len(hdr[k]['shape']) == 4 and hdr[k]['shape'][0] != hdr[k]['shape'][1])
        s = hdr[k]['shape']; hdr[k]['shape'] = [s[1], s[0]] + s[2:]
        st_write(dst, hdr, data); return
    if kind == 'extra-tensor':
        hdr['bogus.weight'] = {'dtype': 'F32', 'shape': [2], 'data_offsets': [len(data), len(data) + 8]}
        st_write(dst, hdr, data + b'\x00' * 8); return
    if kind == 'missing-field':
        del hdr[first]['dtype']; st_write(dst, hdr, data); return
    if kind == 'tensor-not-object':
        hdr[first] = 5; st_write(dst, hdr, data); return
    if kind == 'metadata-not-object':
        hdr['__metadata__'] = [1, 2]; st_write(dst, hdr, data); return
    if kind == 'nan-weights':
        b, e = hdr[first]['data_offsets']
        data = bytearray(data); data[b:e] = struct.pack('<f', float('nan')) * ((e - b) // 4)
        st_write(dst, hdr, bytes(data)); return
    if kind.startswith('epochs='):
        hdr.setdefault('__metadata__', {})['epochs_done'] = kind[7:]; st_write(dst, hdr, data); return
    if kind == 'epochs-missing':
        hdr.get('__metadata__', {}).pop('epochs_done', None); st_write(dst, hdr, data); return
    if kind == 'optim-swap':
        o = [k for k in names if k.startswith('optim.') and k.endswith('exp_avg')]
        a = o[0]; b = next(k for k in o if hdr[k]['shape'] != hdr[a]['shape'])
        hdr[a], hdr[b] = hdr[b], hdr[a]
        st_write(dst, hdr, data); return
    if kind == 'optim-missing':
        del hdr[next(k for k in names if k.startswith('optim.') and k.endswith('exp_avg_sq'))]
        st_write(dst, hdr, data); return
    if kind == 'optim-step-negative':
        k = next(k for k in names if k.startswith('optim.') and k.endswith('.step'))
        b, e = hdr[k]['data_offsets']
        data = bytearray(data); data[b:e] = struct.pack('<f', -3.0) if e - b == 4 else struct.pack('<d', -3.0)
        st_write(dst, hdr, bytes(data)); return
    if kind == 'alphabetical':
        out, nd, off = {}, b'', 0
        if '__metadata__' in hdr: out['__metadata__'] = hdr['__metadata__']
        for k in sorted(names):
            b, e = hdr[k]['data_offsets']
            out[k] = {'dtype': hdr[k]['dtype'], 'shape': hdr[k]['shape'], 'data_offsets': [off, off + e - b]}
            nd += data[b:e]; off += e - b
        st_write(dst, out, nd); return
    if kind == 'reversed-layout':  # data section in reverse order, header in the original order
        off, nd = 0, b''
        for k in reversed(names):
            b, e = hdr[k]['data_offsets']
            nd += data[b:e]; hdr[k]['data_offsets'] = [off, off + e - b]; off += e - b
        st_write(dst, hdr, nd); return
    raise SystemExit('unknown mutation ' + kind)

def meta(path, key):
    hdr, _ = st_read(path)
    print(hdr.get('__metadata__', {}).get(key, ''))

if __name__ == '__main__':
    if sys.argv[1] == 'fixtures': fixtures(sys.argv[2])
    elif sys.argv[1] == 'mutate': mutate(sys.argv[2], sys.argv[3], sys.argv[4])
    elif sys.argv[1] == 'meta': meta(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == 'garbage':  # N bytes of repeatable noise (seeded), so every audit run sees the same bytes
        import random; sys.stdout.buffer.write(random.Random(int(sys.argv[3])).randbytes(int(sys.argv[2])))
    elif sys.argv[1] == 'jpeg': jpeg_gray_flat(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else: raise SystemExit('usage')
PYEOF
py() { "$PYX" "$PY" "$@"; }

# ---- the case runner -------------------------------------------------------------------------------------------
INFO_RE='^(training |resuming |  test: |wrote |drawn into |removing the previous|time limit|skipped: |pipnet demo:|== )|\[[#.]*\] [0-9]+/[0-9]+'
RAW_RE='error: (std::|stoi|stol|stoll|stoul|stof|stod|basic_string|vector|map::at|bad_alloc|bad_array_new_length|unordered_map|Invalid argument|Success|basic_filebuf|basic_ios|ios_base)|std::bad_alloc|what\(\)|^[^:]*: (stoi|stod|stof)$'
CRASH_RE='AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:|Segmentation fault|terminate called|Assertion .* failed|core dumped|double free|free\(\): invalid|stack smashing'
declare -A COUNT=()
N=0
PROTECT=""; POST=""; POSTCLASS=silent-wrong; POSTWHY=""; MULTI=0; LOST_EVEN_ON_SUCCESS=0
printf '%-12s  %-44s | %s\n' CLASS CASE "first stderr line (or why)" | tee "$OUT/report.txt"
printf 'n\tclass\tcase\texpect\trc\tseconds\tstderr\n' > "$OUT/results.tsv"

hashf() { local f; for f in "$@"; do if [ -d "$f" ]; then echo "$f=dir"; elif [ -e "$f" ]; then echo "$f=$(sha256sum < "$f" | cut -c1-16)"; else echo "$f=absent"; fi; done; }

record() {  # record CLASS NAME EXPECT RC SECONDS LINE
  COUNT[$1]=$(( ${COUNT[$1]:-0} + 1 ))
  printf '%-12s  %-44s | %s\n' "$1" "$2" "$6" | tee -a "$OUT/report.txt"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$N" "$1" "$2" "$3" "$4" "$5" "$6" >> "$OUT/results.tsv"
}

skip() { N=$((N + 1)); record SKIP "$1" - - 0 "$2"; }

# c NAME EXPECT NEED CMD...   EXPECT: err | ok. NEED: an extended regex (case-insensitive) the error line must match
# to be 'clear' ('-' for any). Before a call, set PROTECT (files that must survive), POST (a bash check run in the
# case folder after the command; failing makes the class POSTCLASS, with POSTWHY shown), LOST_EVEN_ON_SUCCESS=1
# (a change to a PROTECT file is data-lost even when the command exits 0). All are reset after.
c() {
  local name=$1 expect=$2 need=$3; shift 3
  N=$((N + 1))
  local d; d=$OUT/cases/$(printf %03d $N)-$name
  mkdir -p "$d"
  local before; before=$(hashf $PROTECT)
  local t1; t1=$(date +%s.%N)
  { ( cd "$d" && ulimit -v 8000000 2>/dev/null; exec timeout -k 5 $TMO "$@" ) > "$d/stdout" 2> "$d/stderr" < /dev/null; } 2>/dev/null
  local rc=$?
  local secs; secs=$(awk -v a="$t1" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
  echo "$rc" > "$d/rc"
  local lines; lines=$(tr '\r' '\n' < "$d/stderr" | grep -av '^[[:space:]]*$' | grep -aEv "$INFO_RE")
  local nl; nl=$(printf '%s' "$lines" | grep -ac '')
  [ "$MULTI" = 1 ] && [ "$nl" -gt 1 ] && nl=1   # the case allows help text after the error line
  local first; first=$(printf '%s\n' "$lines" | head -n 1 | LC_ALL=C tr -c '[:print:]\n' '?' | cut -c1-220)
  [ -z "$first" ] && first="(no stderr; rc=$rc)"
  local after; after=$(hashf $PROTECT)
  local cls why=""
  if [ "$rc" = 124 ] || { [ "$rc" = 137 ] && awk -v s="$secs" -v t=$TMO 'BEGIN{exit !(s >= t)}'; }; then cls=hang; why="timeout ${TMO}s"
  elif [ "$rc" -ge 128 ] || grep -aqE "$CRASH_RE" "$d/stderr"; then cls=crash; why="rc=$rc"
  elif { [ "$rc" != 0 ] || [ "$LOST_EVEN_ON_SUCCESS" = 1 ]; } && [ "$before" != "$after" ]; then cls=data-lost; why="changed: $(diff <(echo "$before") <(echo "$after") | grep '^>' | sed 's/^> //;s/=.*//' | tr '\n' ' ')"
  elif [ "$expect" = ok ] && [ "$rc" != 0 ]; then cls=spurious; why="rc=$rc"
  elif [ "$expect" = err ] && [ "$rc" = 0 ]; then cls=silent-wrong; why="exit 0"
  elif [ -n "$POST" ] && ! ( cd "$d" && eval "$POST" ) > "$d/post.log" 2>&1; then cls=$POSTCLASS; why="$POSTWHY"
  elif [ "$expect" = ok ]; then cls=ok
  else
    if [ "$rc" != 2 ]; then cls=unclear; why="rc=$rc"
    elif [ "$nl" = 0 ]; then cls=unclear; why="no message"
    elif [ "$nl" -gt 1 ]; then cls=unclear; why="$nl lines"
    elif printf '%s' "$first" | grep -aqE "$RAW_RE"; then cls=unclear; why="raw message"
    elif [ "$need" != - ] && ! printf '%s' "$first" | grep -aqiE -- "$need"; then cls=unclear; why="does not name /$need/"
    else cls=clear; fi
  fi
  [ -n "$why" ] && first="$first  [$why]"
  record "$cls" "$name" "$expect" "$rc" "$secs" "$first"
  PROTECT=""; POST=""; POSTCLASS=silent-wrong; POSTWHY=""; MULTI=0; LOST_EVEN_ON_SUCCESS=0
}

mkrun() {  # mkrun NAME: a fresh copy of the tiny trained run; prints its path
  rm -rf "$OUT/runs/$1"; cp -a "$RUN" "$OUT/runs/$1"; echo "$OUT/runs/$1"
}
runfiles() { echo "$1/config.txt $1/meanface.txt $1/checkpoint.safetensors $1/model.safetensors $1/test.json"; }
TINY=(--width 4 --input-size 64 --batch 8 --epochs 1 --threads 2 --workers 1 --max-batches 1 --test-data '')
TR=("$P" train --data synth:8 "${TINY[@]}")   # a train command that would work; cases add or override flags

# ---- fixtures --------------------------------------------------------------------------------------------------
echo "# fixtures in $FX" | tee -a "$OUT/report.txt"
py fixtures "$FX" || { echo "fixture maker failed" >&2; exit 2; }
RUN=$FX/run
if ! "$P" train --data synth:32 --test-data synth-test:8 --width 4 --input-size 64 --batch 8 --epochs 1 --threads 2 \
     --workers 1 --out "$RUN" > "$FX/run.log" 2>&1 || ! "$P" test --run "$RUN" >> "$FX/run.log" 2>&1; then
  echo "cannot make the tiny trained run (see $FX/run.log); the audit needs it" >&2; exit 2
fi
echo "# tiny run ready after $(( $(date +%s) - T0 )) s" | tee -a "$OUT/report.txt"
RF=$(runfiles "$RUN")
IMG=$FX/img.png

# =================================================================================================================
# 1. command line
MULTI=1; c cli-unknown-command   err 'frobnicate'          "$P" frobnicate
c train-unknown-option           err '--frob'           "${TR[@]}" --frob 1 --out o
c test-unknown-option            err '--frob'           "$P" test --run "$RUN" --frob 1
c infer-unknown-option           err '--frob'           "$P" infer --run "$RUN" --image "$IMG" --frob
c bench-unknown-option           err '--frob'           "$P" bench --frob
c synth-unknown-option           err '--frob'           "$P" synth --frob 3
c demo-unknown-option            err '--frob'           "$P" demo --frob 3
c train-single-dash-option       err '-epochs'          "${TR[@]}" -epochs 3 --out o
c train-missing-value            err 'epochs'              "${TR[@]}" --out o --epochs
c test-missing-value             err '--run'            "$P" test --run
c infer-missing-value            err '--image'          "$P" infer --run "$RUN" --image
c train-positional-argument      err 'stray'               "${TR[@]}" stray --out o
c train-epochs-3.5               err 'epochs'              "${TR[@]}" --out o --epochs 3.5
c train-batch-16x                err 'batch'               "${TR[@]}" --out o --batch 16x
c train-lr-nan                   err 'lr'                  "${TR[@]}" --out o --lr nan
c train-lr-inf                   err 'lr'                  "${TR[@]}" --out o --lr inf
c train-lr-negative              err 'lr'                  "${TR[@]}" --out o --lr -0.1
c train-threads-huge             err 'threads'             "${TR[@]}" --out o --threads 99999
c train-threads--1               err 'threads'             "${TR[@]}" --out o --threads -1
c train-epochs-huge              err 'epochs'              "${TR[@]}" --out o --epochs 99999999999999999999
c train-epochs-0                 err 'epochs'              "${TR[@]}" --out o --epochs 0
c train-batch-0                  err 'batch'               "${TR[@]}" --out o --batch 0
c train-batch-bigger-than-data   err 'batch|samples'       "${TR[@]}" --out o --batch 64
c train-width-0                  err 'width'               "${TR[@]}" --out o --width 0
c train-width-empty              err 'width'               "${TR[@]}" --out o --width ''
c train-input-size-33            err 'input_size|input-size' "${TR[@]}" --out o --input-size 33
c train-input-alias-abc          err 'input'               "${TR[@]}" --out o --input abc
c train-net-stride-48            err 'net_stride|net-stride' "${TR[@]}" --out o --net-stride 48
c train-stride16-resnet50        err 'stride|resnet'       "${TR[@]}" --out o --net-stride 16 --backbone resnet50
c train-backbone-garbage         err 'backbone'            "${TR[@]}" --out o --backbone vgg99
c train-num-nb-0                 err 'num_nb|num-nb'       "${TR[@]}" --out o --num-nb 0
c train-num-nb-above-landmarks   err 'num_nb|num-nb'       "${TR[@]}" --out o --num-nb 150
c train-gamma-2                  err 'gamma'               "${TR[@]}" --out o --gamma 2
c train-decay-abc                err 'decay'               "${TR[@]}" --out o --decay abc
c train-decay-negative           err 'decay'               "${TR[@]}" --out o --decay 3,-5
c train-augment-maybe            err 'augment'             "${TR[@]}" --out o --augment maybe
c train-seed-negative            err 'seed'                "${TR[@]}" --out o --seed -1
c train-workers-0                err 'workers'             "${TR[@]}" --out o --workers 0
c train-crop-scale-0             err 'crop_scale|crop-scale' "${TR[@]}" --out o --crop-scale 0
c train-out-empty                err 'out|directory'       "${TR[@]}" --out ''
c train-device-cuda              err 'cuda'                "${TR[@]}" --out o --device cuda
c train-device-tpu               err 'device'              "${TR[@]}" --out o --device tpu
c test-device-cuda               err 'cuda'                "$P" test --run "$RUN" --device cuda --json t.json
c infer-device-cuda              err 'cuda'                "$P" infer --run "$RUN" --image "$IMG" --device cuda --out io
c bench-device-cuda              err 'cuda'                "$P" bench --device cuda --no-torch --backbones resnet18 --input 64 --batches 1
c test-device-tpu                err 'device'              "$P" test --run "$RUN" --device tpu --json t.json
c train-preset-garbage           err 'preset'              "${TR[@]}" --out o --preset garbage
c train-preset-bad-stride        err 'preset|stride'       "${TR[@]}" --out o --preset pip_33_16_60_r18_l2_l1_10_1_nb10
c train-preset-r77               err 'preset|resnet77|backbone' "${TR[@]}" --out o --preset pip_32_16_60_r77_l2_l1_10_1_nb10
c train-preset-nbx               err 'preset|nb'           "${TR[@]}" --out o --preset pip_32_16_60_r18_l2_l1_10_1_nbx
c train-preset-valid             ok  -                     "$P" train --preset pip_32_16_60_r18_l2_l1_10_1_nb10 --data synth:8 "${TINY[@]}" --out o
c infer-box-trailing-abc         err '--box|box'        "$P" infer --run "$RUN" --image "$IMG" --box 0,0,100,100abc --out io
c infer-box-three-numbers        err 'box'                 "$P" infer --run "$RUN" --image "$IMG" --box 1,2,3 --out io
c infer-box-negative             err 'box'                 "$P" infer --run "$RUN" --image "$IMG" --box -10,-10,-1,-1 --out io
c infer-box-empty-inside         err 'box'                 "$P" infer --run "$RUN" --image "$IMG" --box 30,30,30,40 --out io
c infer-box-outside-image        err 'box'                 "$P" infer --run "$RUN" --image "$IMG" --box 1000,1000,2000,2000 --out io
c infer-box-int-overflow         err 'box'                 "$P" infer --run "$RUN" --image "$IMG" --box 0,0,99999999999,40 --out io
c infer-box-spaces-ok            ok  -                    "$P" infer --run "$RUN" --image "$IMG" --box '0, 0, 40, 40' --out io
c infer-box-partly-outside-ok    ok  -                     "$P" infer --run "$RUN" --image "$IMG" --box -5,-5,40,40 --out io
c bench-batches-abc              err 'batches'             "$P" bench --no-torch --backbones resnet18 --input 64 --batches abc
c bench-batches-only-comma       err 'batches'             "$P" bench --no-torch --backbones resnet18 --input 64 --batches ,
c bench-batches-0                err 'batches'             "$P" bench --no-torch --backbones resnet18 --input 64 --batches 0
c bench-backbones-garbage        err 'vgg|backbone'        "$P" bench --no-torch --backbones vgg99 --input 64 --batches 1
c bench-backbones-empty          err 'backbone'            "$P" bench --no-torch --backbones '' --input 64 --batches 1
c bench-input-33                 err 'input'               "$P" bench --no-torch --backbones resnet18 --input 33 --batches 1
c synth-n-0                      err '--n|\bn\b'        "$P" synth --n 0
c synth-size-abc                 err 'size'                "$P" synth --size abc
c synth-out-missing-folder       err 'nonexistent'         "$P" synth --n 1 --size 32 --out /nonexistent-dir/x.png
c demo-minutes-abc               err 'minutes'             "$P" demo --minutes abc --out d
c test-without-run               err '--run|run'        "$P" test
c infer-without-image            err '--image|image'    "$P" infer --run "$RUN"
c test-run-missing               err 'no-such-run'         "$P" test --run "$OUT/no-such-run"
c test-run-is-a-file             err 'img.png'             "$P" test --run "$IMG"
c infer-image-missing            err 'missing.png'         "$P" infer --run "$RUN" --image "$FX/missing.png" --out io
mkdir -p "$FX/emptydir"
c infer-image-empty-folder       err 'emptydir'            "$P" infer --run "$RUN" --image "$FX/emptydir" --out io
c test-subset-name-with-space    err 'data|name'           "$P" test --run "$RUN" --data 'a b=synth-test:4' --json t.json
R=$(mkrun dup-subset)
c test-duplicate-subset-name     err 'a|subset|name'       "$P" test --run "$R" --data a=synth-test:4 --data a=synth-test:8
R=$(mkrun json-over-config)
LOST_EVEN_ON_SUCCESS=1; PROTECT=$(runfiles "$R"); c test-json-over-config.txt err 'config\.txt' "$P" test --run "$R" --json "$R/config.txt"
R=$(mkrun ced-over-ckpt)
LOST_EVEN_ON_SUCCESS=1; PROTECT=$(runfiles "$R"); c test-ced-over-checkpoint err 'checkpoint' "$P" test --run "$R" --ced "$R/checkpoint.safetensors"
c test-no-test-data-in-run       err 'data'                "$P" test --run "$RUN" --data ''

# =================================================================================================================
# 2. data specifications (pipnet test on the tiny run; the run's files, test.json included, must survive)
ds() { local name=$1 need=$2 spec=$3; PROTECT=$RF; c "$name" err "$need" "$P" test --run "$RUN" --data "$spec"; }
ds data-synth-0                  'synth'                   synth:0
ds data-synth-test--1            'synth-test'              synth-test:-1
ds data-synth-abc                'synth'                   synth:abc
ds data-synth-5x                 'synth'                   synth:5x
ds data-synth-huge               'synth'                   synth:99999999999999999999
ds data-unknown-kind             'foo'                     foo:bar
ds data-300w-extra-field         '300w'                    "300w:$FX/w300:extra"
ds data-list-one-field           'list'                    "list:$FX/list.txt"
ds data-wflw-five-fields         'wflw'                    "wflw:$FX/wflw.txt:$FX/wflwimg:pose:x"
ds data-300w-missing-dir         'nodir'                   "300w:$FX/nodir"
ds data-300w-empty-dir           'emptydir'                "300w:$FX/emptydir"
ds data-300w-is-a-file           'img.png'                 "300w:$IMG"
ds data-list-missing-file        'nolist'                  "list:$FX/nolist.txt:$FX/listimg"
ds data-list-is-a-directory      'w300'                    "list:$FX/w300:$FX/listimg"
ds data-list-image-dir-missing   'noimgdir|l0.png'         "list:$FX/list.txt:$FX/noimgdir"
ds data-wflw-missing-file        'nowflw'                  "wflw:$FX/nowflw.txt:$FX/wflwimg"
ds data-wflw-98-points-vs-68     '98|points'               "wflw:$FX/wflw.txt:$FX/wflwimg"
PROTECT=$RF; c test-bad-data-keeps-test.json err 'nodir' "$P" test --run "$RUN" --data "good=synth-test:4" --data "bad=300w:$FX/nodir"
c data-300w-valid                ok  -                     "$P" test --run "$RUN" --data "300w:$FX/w300" --json t.json
c data-list-valid                ok  -                     "$P" test --run "$RUN" --data "list:$FX/list.txt:$FX/listimg" --json t.json
c data-two-named-subsets-valid   ok  -                     "$P" test --run "$RUN" --data "a=synth-test:4" --data "b=list:$FX/list.txt:$FX/listimg" --json t.json

# =================================================================================================================
# 3. config files (pipnet train --config FILE)
cf() { local name=$1 need=$2 file=$3; shift 3; c "$name" err "$need" "${TR[@]}" --out o --config "$file" "$@"; }
printf 'epochs 3\n' > "$FX/cfg-noeq.txt";            cf config-missing-equals     'cfg-noeq.txt'        "$FX/cfg-noeq.txt"
printf 'colour = blue\n' > "$FX/cfg-key.txt";        cf config-unknown-key        'colour'              "$FX/cfg-key.txt"
printf 'epochs = abc\n' > "$FX/cfg-val.txt";         cf config-bad-value          'epochs'              "$FX/cfg-val.txt"
printf 'epochs =\n' > "$FX/cfg-empty.txt";           cf config-empty-value        'epochs'              "$FX/cfg-empty.txt"
printf 'lr = 1e-3 # ok\nbatch = 8 8\n' > "$FX/cfg-two.txt"; cf config-two-values  'batch'               "$FX/cfg-two.txt"
py garbage 4096 1 > "$FX/cfg-binary.txt";    cf config-binary-garbage     'cfg-binary.txt'      "$FX/cfg-binary.txt"
printf 'epo\0chs = 3\n' > "$FX/cfg-nul.txt";         cf config-nul-byte           'cfg-nul.txt|epo'     "$FX/cfg-nul.txt"
head -c 30000000 /dev/zero | tr '\0' 'x' > "$FX/cfg-huge.txt"; cf config-huge-one-line 'cfg-huge.txt'   "$FX/cfg-huge.txt"
cf config-is-a-directory         'emptydir'                "$FX/emptydir"
cf config-missing-file           'nocfg'                   "$FX/nocfg.txt"
printf 'data = synth:8\r\nwidth = 4\r\n' > "$FX/cfg-crlf.txt"
c config-crlf-valid              ok  -                     "${TR[@]}" --out o --config "$FX/cfg-crlf.txt"
printf '# comment only\n\n   \n' > "$FX/cfg-comments.txt"
c config-comments-only-valid     ok  -                     "${TR[@]}" --out o --config "$FX/cfg-comments.txt"

# =================================================================================================================
# 4. images (pipnet infer on one file; a valid one of each format must work)
for f in img.png img.jpg img.bmp img.pgm img.ppm img1x1.png; do
  c "image-valid-${f//./-}"        ok  -                     "$P" infer --run "$RUN" --image "$FX/$f" --out io
done
im() { local name=$1 file=$2; c "$name" err "$(basename "$file" | sed 's/\./\\./g')" "$P" infer --run "$RUN" --image "$file" --out io; }
: > "$FX/zero.png";                                    im image-0-bytes            "$FX/zero.png"
head -c 100  "$FX/img.png" > "$FX/trunc100.png";       im image-png-cut-100-bytes  "$FX/trunc100.png"
head -c 5000 "$FX/img.png" > "$FX/trunchalf.png";      im image-png-cut-half       "$FX/trunchalf.png"
head -c $(( $(stat -c %s "$FX/img.png") - 12 )) "$FX/img.png" > "$FX/noiend.png"; im image-png-no-iend "$FX/noiend.png"
head -c 120  "$FX/img.jpg" > "$FX/trunc.jpg";          im image-jpeg-cut-in-header "$FX/trunc.jpg"
head -c 180  "$FX/img.jpg" > "$FX/truncdata.jpg";      im image-jpeg-cut-in-data   "$FX/truncdata.jpg"
head -c 6000 "$FX/img.bmp" > "$FX/trunc.bmp";          im image-bmp-cut-half       "$FX/trunc.bmp"
head -c 30   "$FX/img.bmp" > "$FX/trunchdr.bmp";       im image-bmp-cut-in-header  "$FX/trunchdr.bmp"
head -c 2000 "$FX/img.pgm" > "$FX/trunc.pgm";          im image-pgm-cut-half       "$FX/trunc.pgm"
head -c 6000 "$FX/img.ppm" > "$FX/trunc.ppm";          im image-ppm-cut-half       "$FX/trunc.ppm"
printf 'P5\n16 0\n255\n' > "$FX/h0.pgm"
c image-pgm-height-0             err 'h0\.pgm.*(decode|height|size|16x0|no pixels)' "$P" infer --run "$RUN" --image "$FX/h0.pgm" --out io
printf 'P5\n2000 2000\n65535\n' > "$FX/nodata.pgm";    im image-pgm-16bit-no-data  "$FX/nodata.pgm"
printf 'P5\n99999999 99999999\n255\n' > "$FX/giant.pgm"; im image-pgm-giant-dims  "$FX/giant.pgm"
cp "$FX/huge_header.png" "$FX/huge.png";               im image-png-100000x100000  "$FX/huge.png"
echo "this is not a picture" > "$FX/text.jpg";         im image-text-named-jpg     "$FX/text.jpg"
mkdir -p "$FX/dirimg/x.png";                           im image-directory-named-png "$FX/dirimg/x.png"
mkdir -p "$FX/dirfolder/x.png"; cp "$IMG" "$FX/dirfolder/a.png"
c image-folder-with-dir-named-png err 'x\.png'            "$P" infer --run "$RUN" --image "$FX/dirfolder" --out io
mkdir -p "$FX/onebad"; cp "$IMG" "$FX/onebad/a.png"; cp "$FX/trunc100.png" "$FX/onebad/b.png"; cp "$IMG" "$FX/onebad/c.png"
POST='[ ! -s stdout ]'; POSTWHY='printed JSON on stdout before failing'
c infer-folder-one-bad-image     err 'b\.png'              "$P" infer --run "$RUN" --image "$FX/onebad" --out io
POST='grep -q skipped stdout && grep -q "c.png" stdout'; POSTWHY='stdout lacks the skipped record or the later image'
c infer-folder-one-bad-skip-bad  ok  -                     "$P" infer --run "$RUN" --image "$FX/onebad" --out io --skip-bad
c infer-stdout-is-dev-full       err 'stdout|write|space'  bash -c '"$0" infer --run "$1" --image "$2" --out io > /dev/full' "$P" "$RUN" "$IMG"

# =================================================================================================================
# 5. 300W folders and .pts files (pipnet test --data 300w:DIR; DIR is the valid folder with face0.pts replaced)
W3=0
pts_case() {  # pts_case NAME EXPECT NEED  (stdin: the new face0.pts)
  W3=$((W3 + 1)); local dir=$FX/w300-$W3
  rm -rf "$dir"; cp -a "$FX/w300" "$dir"; cat > "$dir/face0.pts"
  PROTECT=$RF; c "$1" "$2" "$3" "$P" test --run "$RUN" --data "300w:$dir"
}
ptsbody() { sed -n '4,71p' "$FX/w300/face0.pts"; }  # the 68 'x y' lines
hdr() { printf 'version: 1\nn_points: %s\n{\n' "$1"; }
{ hdr 67; ptsbody; echo '}'; }                 | pts_case pts-n-points-67-with-68-lines err 'face0\.pts'
{ hdr 67; ptsbody | head -67; echo '}'; }      | pts_case pts-67-points-model-68  err 'face0'
{ hdr 68.7; ptsbody; echo '}'; }               | pts_case pts-n-points-68.7       err 'face0\.pts'
{ hdr 1e20; ptsbody; echo '}'; }               | pts_case pts-n-points-1e20       err 'face0\.pts'
{ hdr -68; ptsbody; echo '}'; }                | pts_case pts-n-points-negative   err 'face0\.pts'
{ hdr 0; echo '}'; }                           | pts_case pts-n-points-0          err 'face0\.pts'
{ hdr nan; ptsbody; echo '}'; }                | pts_case pts-n-points-nan        err 'face0\.pts'
{ hdr ''; ptsbody; echo '}'; }                 | pts_case pts-n-points-empty      err 'face0\.pts'
{ printf 'version: 1\n{\n'; ptsbody; echo '}'; } | pts_case pts-no-n-points-line  err 'face0\.pts'
{ printf 'version: 1\nn_points: 68\n'; ptsbody; echo '}'; } | pts_case pts-missing-open-brace err 'face0\.pts'
{ hdr 68; ptsbody; }                           | pts_case pts-missing-close-brace err 'face0\.pts'
{ hdr 68; ptsbody | sed '5s/.*/12.5 abc/'; echo '}'; } | pts_case pts-non-numeric-coordinate err 'face0\.pts'
{ hdr 68; ptsbody | sed '5s/.*/12.5 0x1p3/'; echo '}'; } | pts_case pts-hex-float-coordinate err 'face0\.pts'
{ hdr 68; ptsbody | sed '5s/.*/1e9 40/'; echo '}'; }    | pts_case pts-coordinate-1e9   err 'face0\.pts'
{ hdr 68; ptsbody | sed '5s/.*/40 1e30/'; echo '}'; }   | pts_case pts-coordinate-1e30  err 'face0\.pts'
{ hdr 68; ptsbody | sed '5s/.*/1e300 40/'; echo '}'; }  | pts_case pts-coordinate-1e300 err 'face0\.pts'
{ hdr 68; ptsbody | sed '5s/.*/nan 40/'; echo '}'; }    | pts_case pts-coordinate-nan   err 'face0\.pts'
{ hdr 68; ptsbody | sed '5s/.*/40 inf/'; echo '}'; }    | pts_case pts-coordinate-inf   err 'face0\.pts'
{ hdr 68; ptsbody | sed '5s/.*/-1e9 -1e9/'; echo '}'; } | pts_case pts-coordinate-minus-1e9 err 'face0\.pts'
{ hdr 68; ptsbody | head -10; echo '}'; }      | pts_case pts-too-few-lines      err 'face0\.pts'
{ hdr 68; ptsbody | sed '5s/$/ 7/'; echo '}'; } | pts_case pts-three-numbers-on-a-line err 'face0\.pts'
{ hdr 68; ptsbody | sed '5s/$/ hello/'; echo '}'; } | pts_case pts-extra-text-on-a-line err 'face0\.pts'
{ hdr 68; ptsbody | sed '5s/.*/40/'; echo '}'; } | pts_case pts-one-number-on-a-line err 'face0\.pts'
: | pts_case pts-empty-file                                                   err 'face0\.pts'
py garbage 3000 2 | pts_case pts-binary-garbage                       err 'face0\.pts'
{ hdr 68; for i in $(seq 68); do echo '40 40'; done; echo '}'; } | pts_case pts-all-points-equal err 'face0'
{ hdr 68; ptsbody | sed '1s/.*/-3.0 -2.0/;2s/.*/97.5 98.0/'; echo '}'; } | pts_case pts-slightly-outside-image-ok ok -
{ hdr 68; ptsbody; echo '}'; } | sed 's/$/\r/' | pts_case pts-crlf-line-endings-ok ok -
W3=$((W3 + 1)); rm -rf "$FX/w300-$W3"; cp -a "$FX/w300" "$FX/w300-$W3"; rm "$FX/w300-$W3/face2.pts"
PROTECT=$RF; c 300w-image-without-pts    err 'face2'      "$P" test --run "$RUN" --data "300w:$FX/w300-$W3"
W3=$((W3 + 1)); rm -rf "$FX/w300-$W3"; cp -a "$FX/w300" "$FX/w300-$W3"; cp "$FX/w300/face1.pts" "$FX/w300-$W3/orphan.pts"
c 300w-pts-without-image-ok      ok  -                     "$P" test --run "$RUN" --data "300w:$FX/w300-$W3" --json t.json
W3=$((W3 + 1)); rm -rf "$FX/w300-$W3"; cp -a "$FX/w300" "$FX/w300-$W3"; head -c 3000 "$FX/w300/face1.png" > "$FX/w300-$W3/face1.png"
PROTECT=$RF; c 300w-truncated-image-in-folder err 'face1' "$P" test --run "$RUN" --data "300w:$FX/w300-$W3"
W3=$((W3 + 1)); rm -rf "$FX/w300-$W3"; cp -a "$FX/w300" "$FX/w300-$W3"; head -c 3000 "$FX/w300/face1.png" > "$FX/w300-$W3/face1.png"
c 300w-truncated-image-in-training err 'face1'            "$P" train --data "300w:$FX/w300-$W3" --width 4 --input-size 64 --batch 2 --epochs 1 --threads 2 --workers 2 --test-data '' --out o

# =================================================================================================================
# 6. list files and WFLW lists
LS=0
list_case() {  # list_case NAME EXPECT NEED  (stdin: the list file; images are the valid list's)
  LS=$((LS + 1)); cat > "$FX/list-$LS.txt"
  PROTECT=$RF; c "$1" "$2" "$3" "$P" test --run "$RUN" --data "list:$FX/list-$LS.txt:$FX/listimg"
}
L1() { sed -n 1p "$FX/list.txt"; }
sed '2s/ [^ ]* *$//' "$FX/list.txt"                                   | list_case list-odd-coordinate-count  err 'list-[0-9]+\.txt'
{ L1; sed -n 2p "$FX/list.txt" | cut -d' ' -f1-101; }                 | list_case list-inconsistent-counts    err 'list-[0-9]+\.txt'
sed '2s/ [^ ]* / abc /3' "$FX/list.txt"                               | list_case list-non-numeric            err 'list-[0-9]+\.txt'
sed '1s/^\(l0.png\) [^ ]*/\1 50.0/' "$FX/list.txt"                    | list_case list-coordinate-50          err 'list-[0-9]+\.txt|l0'
sed '1s/^\(l0.png\) [^ ]*/\1 -1e9/' "$FX/list.txt"                    | list_case list-coordinate-minus-1e9   err 'list-[0-9]+\.txt|l0'
sed '1s/^\(l0.png\) [^ ]*/\1 nan/' "$FX/list.txt"                     | list_case list-coordinate-nan         err 'list-[0-9]+\.txt'
sed '1s/^l0.png/nothere.png/' "$FX/list.txt"                          | list_case list-missing-image          err 'nothere'
awk '{print $1}' "$FX/list.txt"                                       | list_case list-only-names             err 'list-[0-9]+\.txt|l0|unlabel'
awk '{print $1, $2, $3, $4, $5}' "$FX/list.txt"                       | list_case list-2-points-model-68      err 'points|list-[0-9]+'
: | list_case list-empty-file                                                                                  err 'list-[0-9]+\.txt'
py garbage 2000 3                                             | list_case list-binary-garbage         err 'list-[0-9]+\.txt'
sed '1s/^\(l0.png\) [^ ]* [^ ]*/\1 -0.05 1.05/' "$FX/list.txt"        | list_case list-slightly-outside-ok    ok  -
sed 's/$/\r/' "$FX/list.txt"                                          | list_case list-crlf-ok                ok  -
WF=0
wflw_case() {  # wflw_case NAME EXPECT NEED [ATTR]  (stdin: the WFLW list) -- trains the tiny model 1 batch
  WF=$((WF + 1)); cat > "$FX/wflw-$WF.txt"
  local spec="wflw:$FX/wflw-$WF.txt:$FX/wflwimg${4:+:$4}"
  c "$1" "$2" "$3" "$P" train --data "$spec" "${TINY[@]}" --batch 2 --out o
}
cat "$FX/wflw.txt"                                                     | wflw_case wflw-valid                ok  -
cat "$FX/wflw.txt"                                                     | wflw_case wflw-valid-attribute-pose ok  - pose
sed '3s/ [^ ]*$//' "$FX/wflw.txt"                                      | wflw_case wflw-206-fields          err 'wflw-[0-9]+\.txt'
sed '3s/$/ extra/' "$FX/wflw.txt"                                      | wflw_case wflw-208-fields          err 'wflw-[0-9]+\.txt'
sed '3s/^[^ ]*/abc/' "$FX/wflw.txt"                                    | wflw_case wflw-non-numeric-coordinate err 'wflw-[0-9]+\.txt'
awk '{$197="abc"} 1' "$FX/wflw.txt"                                    | wflw_case wflw-non-numeric-box     err 'wflw-[0-9]+\.txt'
awk 'NR==2{$201=2} 1' "$FX/wflw.txt"                                   | wflw_case wflw-attribute-2         err 'wflw-[0-9]+\.txt|attribute'
awk 'NR==2{$202=0.5} 1' "$FX/wflw.txt"                                 | wflw_case wflw-attribute-0.5       err 'wflw-[0-9]+\.txt|attribute'
awk 'NR==2{$203=-1} 1' "$FX/wflw.txt"                                  | wflw_case wflw-attribute-minus-1   err 'wflw-[0-9]+\.txt|attribute'
cat "$FX/wflw.txt"                                                     | wflw_case wflw-unknown-attribute   err 'smile' smile
cat "$FX/wflw.txt"                                                     | wflw_case wflw-attribute-no-face   err 'blur' blur
sed '2s/sub\/w1.png/sub\/nothere.png/' "$FX/wflw.txt"                  | wflw_case wflw-missing-image       err 'nothere'
awk 'NR==2{$197=86; $199=10} 1' "$FX/wflw.txt"                         | wflw_case wflw-box-inverted        err 'wflw-[0-9]+\.txt|w1\.png|box'
awk 'NR==2{$1=1e9} 1' "$FX/wflw.txt"                                   | wflw_case wflw-coordinate-1e9      err 'wflw-[0-9]+\.txt|w1\.png'
awk 'NR==2{$2="inf"} 1' "$FX/wflw.txt"                                 | wflw_case wflw-coordinate-inf      err 'wflw-[0-9]+\.txt'
: | wflw_case wflw-empty-file                                                                                 err 'wflw-[0-9]+\.txt'

# =================================================================================================================
# 7. safetensors: weights (pipnet test --weights), checkpoints (--resume), --pretrained
MODEL=$RUN/model.safetensors CKPT=$RUN/checkpoint.safetensors
mkdir -p "$FX/st"
st_case() {  # st_case KIND [EXPECT]: pipnet test --weights (a mutation of the run's model.safetensors)
  local f=$FX/st/$1.safetensors
  py mutate "$MODEL" "$f" "$1"
  PROTECT=$RF; c "weights-$1" "${2:-err}" "$1\.safetensors" "$P" test --run "$RUN" --weights "$f"
}
for k in empty short7 truncated truncated-header hlen-huge hlen-over json-garbage json-array json-unterminated \
         json-empty deep-array deep-object trailing-garbage overlap past-end offsets-1e30 offsets-negative \
         offsets-strings offsets-three offsets-fraction dtype-f16 dtype-garbage dtype-number shape-negative \
         shape-overflow shape-fraction shape-1e400 shape-9dims missing-tensor wrong-shape extra-tensor \
         missing-field tensor-not-object metadata-not-object nan-weights; do
  st_case "$k"
done
py mutate "$MODEL" "$FX/st/reversed-layout.safetensors" reversed-layout
c weights-reversed-data-layout-ok ok -                   "$P" test --run "$RUN" --weights "$FX/st/reversed-layout.safetensors" --json t.json
c weights-missing-file           err 'nofile'              "$P" test --run "$RUN" --weights "$FX/st/nofile.safetensors"
c weights-is-a-directory         err 'st'                  "$P" test --run "$RUN" --weights "$FX/st"
R=$(mkrun deep-model); py mutate "$MODEL" "$R/model.safetensors" deep-object
c infer-run-model-deep-json      err 'model\.safetensors'  "$P" infer --run "$R" --image "$IMG" --out io
R=$(mkrun trunc-model); py mutate "$MODEL" "$R/model.safetensors" truncated
c infer-run-model-truncated      err 'model\.safetensors'  "$P" infer --run "$R" --image "$IMG" --out io
# --pretrained
c pretrained-missing-file        err 'nofile'              "${TR[@]}" --out o --pretrained "$FX/st/nofile.safetensors"
c pretrained-deep-json           err 'deep-object'         "${TR[@]}" --out o --pretrained "$FX/st/deep-object.safetensors"
c pretrained-truncated           err 'truncated'           "${TR[@]}" --out o --pretrained "$FX/st/truncated.safetensors"
c pretrained-wrong-width         err 'model\.safetensors|shape' "${TR[@]}" --out o --pretrained "$MODEL" --width 8
c pretrained-image-file          err 'img\.png'            "${TR[@]}" --out o --pretrained "$IMG"
c pretrained-run-model-ok        ok  -                     "${TR[@]}" --out o --pretrained "$MODEL"
# checkpoints under --resume: the run's config.txt, meanface and checkpoint must survive a refused resume
ck_case() {  # ck_case KIND NEED [EXPECT]
  local R; R=$(mkrun "ck-$1"); py mutate "$CKPT" "$R/checkpoint.safetensors" "$1"
  PROTECT=$(runfiles "$R"); c "resume-ckpt-$1" "${3:-err}" "$2" "$P" train --resume --out "$R" --epochs 2 --max-batches 1
}
ck_case 'epochs=-3'        'epochs_done'
ck_case 'epochs=1e99'      'epochs_done'
ck_case 'epochs=x'         'epochs_done'
ck_case 'epochs=5'         'epochs_done'
ck_case 'epochs='          'epochs_done'
ck_case epochs-missing     'epochs_done'
ck_case optim-swap         'optim|exp_avg'
ck_case optim-missing      'optim|exp_avg'
ck_case optim-step-negative 'step'
ck_case truncated          'checkpoint'
ck_case deep-array         'checkpoint'
ck_case missing-tensor     'checkpoint'
ck_case overlap            'checkpoint'
# resume: overrides that change the model are refused before anything is written
RC_=$(mkrun resume-refuse)
for o in "--width 8" "--backbone resnet50" "--input-size 96" "--input 96" "--num-nb 5" "--data synth:16" "--lr 0.5"; do
  PROTECT=$(runfiles "$RC_"); c "resume-refuse${o// /-}" err "${o%% *}|${o#--}|$(echo "${o%% *}" | sed 's/^--//;s/-/_/g')" "$P" train --resume --out "$RC_" $o
done
PROTECT=$(runfiles "$RC_"); c resume-with-config-flag err 'config' "$P" train --resume --out "$RC_" --config "$FX/cfg-crlf.txt"
PROTECT=$(runfiles "$RC_"); c resume-width-bad-value  err 'width'  "$P" train --resume --out "$RC_" --width abc
c resume-without-run             err 'norun|resume|config' "$P" train --resume --out "$OUT/runs/norun"
R=$(mkrun resume-nomean); rm "$R/meanface.txt"
PROTECT="$R/config.txt $R/checkpoint.safetensors"; c resume-meanface-missing err 'meanface' "$P" train --resume --out "$R" --epochs 2 --max-batches 1
R=$(mkrun resume-noconfig); rm "$R/config.txt"
PROTECT="$R/meanface.txt $R/checkpoint.safetensors"; c resume-config-missing err 'config' "$P" train --resume --out "$R" --epochs 2
R=$(mkrun resume-same-width)
c resume-same-width-ok           ok  -                     "$P" train --resume --out "$R" --width 4
R=$(mkrun resume-log-garbage); py garbage 500 4 > "$R/log.csv"
c resume-log-garbage-ok          ok  -                     "$P" train --resume --out "$R" --epochs 2 --max-batches 1
R=$(mkrun resume-leftover-tmp); py garbage 1000 5 > "$R/checkpoint.safetensors.tmp"
c resume-leftover-tmp-ok         ok  -                     "$P" train --resume --out "$R" --epochs 2 --max-batches 1
RA=$(mkrun resume-threads1)
POST="$PYX $PY meta $RA/checkpoint.safetensors epochs_done | grep -qx 2 && [ \$(wc -l < $RA/log.csv) = 3 ]"
POSTWHY='checkpoint epochs_done != 2 or log.csv lacks epoch 2'
c resume-threads-1-ok            ok  -                     "$P" train --resume --out "$RA" --epochs 2 --max-batches 1 --threads 1 --workers 1
RB=$(mkrun resume-alphabetical); py mutate "$CKPT" "$RB/checkpoint.safetensors" alphabetical
POST="diff <(tail -n 1 $RA/log.csv | cut -d, -f1-8) <(tail -n 1 $RB/log.csv | cut -d, -f1-8)"
POSTWHY='epoch 2 differs from resuming the same checkpoint in writer order'
c resume-ckpt-alphabetical-order-ok ok -                   "$P" train --resume --out "$RB" --epochs 2 --max-batches 1 --threads 1 --workers 1
R=$(mkrun resume-alpha-2); py mutate "$CKPT" "$R/checkpoint.safetensors" reversed-layout
c resume-ckpt-reversed-layout-ok ok  -                     "$P" train --resume --out "$R" --epochs 2 --max-batches 1
R=$(mkrun existing-no-resume)
PROTECT=$(runfiles "$R"); c train-over-existing-run-no-resume err 'resume|checkpoint' "${TR[@]}" --out "$R"

# =================================================================================================================
# 8. run directories (pipnet test / infer)
R=$(mkrun no-config); rm "$R/config.txt"
c run-config-missing             err 'config'              "$P" test --run "$R"
R=$(mkrun cfg-garbage); py garbage 300 6 > "$R/config.txt"
c run-config-garbage             err 'config\.txt'         "$P" test --run "$R"
R=$(mkrun cfg-unknown); echo 'colour = red' >> "$R/config.txt"
c run-config-unknown-key         err 'colour'              "$P" test --run "$R"
R=$(mkrun cfg-dir); rm "$R/config.txt"; mkdir "$R/config.txt"
c run-config-is-a-directory      err 'config\.txt'         "$P" test --run "$R"
R=$(mkrun no-mean); rm "$R/meanface.txt"
c run-meanface-missing           err 'meanface'            "$P" test --run "$R"
R=$(mkrun mean-odd); echo "0.5" >> "$R/meanface.txt"
c run-meanface-odd-count         err 'meanface'            "$P" test --run "$R"
R=$(mkrun mean-garbage); echo "0.5 zz" >> "$R/meanface.txt"
c run-meanface-garbage           err 'meanface'            "$P" test --run "$R"
R=$(mkrun mean-short); cut -d' ' -f1-120 "$RUN/meanface.txt" > "$R/meanface.txt"
c run-meanface-60-points         err 'meanface|model\.safetensors|60' "$P" test --run "$R"
R=$(mkrun mean-nan); sed 's/^[^ ]*/nan/' "$RUN/meanface.txt" > "$R/meanface.txt"
c run-meanface-nan               err 'meanface'            "$P" test --run "$R"
R=$(mkrun mean-1e30); sed 's/^[^ ]*/1e30/' "$RUN/meanface.txt" > "$R/meanface.txt"
c run-meanface-1e30              err 'meanface'            "$P" test --run "$R"
R=$(mkrun mean-empty); : > "$R/meanface.txt"
c run-meanface-empty             err 'meanface'            "$P" test --run "$R"
R=$(mkrun ckpt-only); rm -f "$R/model.safetensors" "$R/test.json" "$R/log.csv" "$R/loss.png" "$R"/*.png
c run-only-checkpoint-test-ok    ok  -                     "$P" test --run "$R"
c run-only-checkpoint-infer-ok   ok  -                     "$P" infer --run "$R" --image "$IMG" --out io
R=$(mkrun no-weights); rm -f "$R/model.safetensors" "$R/checkpoint.safetensors"
c run-no-weights                 err 'weights|model\.safetensors|checkpoint' "$P" test --run "$R"
R=$(mkrun unreadable)
if [ "$(id -u)" = 0 ]; then
  skip run-config-chmod-000 "running as root: chmod 000 does not stop root from reading"
  skip run-model-chmod-000 "running as root: chmod 000 does not stop root from reading"
else
  chmod 000 "$R/config.txt"; c run-config-chmod-000 err 'config' "$P" test --run "$R"; chmod 644 "$R/config.txt"
  chmod 000 "$R/model.safetensors"; c run-model-chmod-000 err 'model' "$P" test --run "$R"; chmod 644 "$R/model.safetensors"
fi

# =================================================================================================================
# 9. faults and outputs
echo "a file" > "$FX/plainfile"
PROTECT=$FX/plainfile; c train-out-is-a-file      err 'plainfile' "${TR[@]}" --out "$FX/plainfile"
PROTECT=$FX/plainfile; c infer-out-is-a-file      err 'plainfile' "$P" infer --run "$RUN" --image "$IMG" --out "$FX/plainfile"
PROTECT=$FX/plainfile; c train-out-under-a-file   err 'plainfile' "${TR[@]}" --out "$FX/plainfile/run"
R=$(mkrun json-dir); mkdir -p "$R/jsondir"
c test-json-is-a-directory       err 'jsondir'             "$P" test --run "$R" --json "$R/jsondir"
c test-json-in-missing-folder    err 'nofolder'            "$P" test --run "$RUN" --json "$OUT/nofolder/t.json"
R=$(mkrun ced-missing)
PROTECT="$R/test.json"; c test-ced-in-missing-folder err 'nofolder' "$P" test --run "$R" --ced "$OUT/nofolder/c.png"
# disk full: a small tmpfs (root only)
FULL=$OUT/fault/full
mkdir -p "$FULL"
if mount -t tmpfs -o size=600k tmpfs "$FULL" 2>/dev/null; then
  POST="ls $FULL/run | grep -q '\.tmp\$' && exit 1; exit 0"; POSTCLASS=data-lost; POSTWHY="a .tmp file was left on the full disk: $FULL/run"
  c disk-full-new-run            err 'space|full|write'    "${TR[@]}" --out "$FULL/run"
  umount "$FULL"
  mount -t tmpfs -o size=3000k tmpfs "$FULL"   # room for the run and a second checkpoint, once the filler is gone
  mkdir "$FULL/run"; cp -a "$RUN"/{config.txt,meanface.txt,checkpoint.safetensors,model.safetensors,log.csv} "$FULL/run/"
  head -c $(( ( $(df -k --output=avail "$FULL" | tail -1) - 64 ) * 1024 )) /dev/zero > "$FULL/filler" 2>/dev/null
  PROTECT="$FULL/run/checkpoint.safetensors $FULL/run/meanface.txt $FULL/run/model.safetensors"
  POST="ls $FULL/run | grep -q '\.tmp\$' && exit 1; exit 0"; POSTCLASS=data-lost; POSTWHY="a .tmp file was left on the full disk: $FULL/run"
  c disk-full-resume-keeps-checkpoint err 'space|full|write' "$P" train --resume --out "$FULL/run" --epochs 2 --max-batches 1
  rm -f "$FULL/filler"
  POST="$PYX $PY meta $FULL/run/checkpoint.safetensors epochs_done | grep -qx 2"; POSTWHY='the resumed run did not reach epoch 2'
  c disk-full-then-resume-ok     ok  -                     "$P" train --resume --out "$FULL/run" --epochs 2 --max-batches 1
  umount "$FULL"
  mount -t tmpfs -o size=900k tmpfs "$FULL"; cp -a "$RUN/config.txt" "$RUN/meanface.txt" "$RUN/model.safetensors" "$FULL/"
  echo '{"old": 1}' > "$FULL/test.json"
  head -c $(( ( $(df -k --output=avail "$FULL" | tail -1) - 4 ) * 1024 )) /dev/zero > "$FULL/filler" 2>/dev/null
  PROTECT="$FULL/test.json"; POST="ls $FULL | grep -q '\.tmp\$' && exit 1; exit 0"; POSTCLASS=data-lost; POSTWHY='a .tmp file was left'
  c disk-full-test-keeps-test.json err 'space|full|write|png' "$P" test --run "$FULL" --data synth-test:8
  umount "$FULL"
else
  skip disk-full-new-run "cannot mount a tmpfs here (needs root)"
  skip disk-full-resume-keeps-checkpoint "cannot mount a tmpfs here (needs root)"
  skip disk-full-then-resume-ok "cannot mount a tmpfs here (needs root)"
  skip disk-full-test-keeps-test.json "cannot mount a tmpfs here (needs root)"
fi
# kill -9 during training, then --resume
K=$OUT/runs/killed
rm -rf "$K"
"$P" train --data synth:64 --test-data '' --width 4 --input-size 64 --batch 8 --epochs 40 --threads 2 --workers 1 --out "$K" > "$OUT/fault/killed.log" 2>&1 &
KP=$!
for i in $(seq 600); do [ -e "$K/checkpoint.safetensors" ] && break; kill -0 $KP 2>/dev/null || break; sleep 0.1; done
sleep 0.7; kill -9 $KP 2>/dev/null; wait $KP 2>/dev/null
KDONE=$("$PYX" "$PY" meta "$K/checkpoint.safetensors" epochs_done 2>/dev/null || echo none)
echo "# kill -9 after epoch $KDONE" >> "$OUT/report.txt"
POST="$PYX $PY meta $K/checkpoint.safetensors epochs_done | grep -qx 40 && [ -e $K/model.safetensors ]"; POSTWHY='the resumed run did not finish 40 epochs'
c kill-9-then-resume-ok          ok  -                     "$P" train --resume --out "$K" --max-batches 1
R=$(mkrun die-hook)
c die-at-step-then-resume        ok  -                     bash -c '"$0" train --resume --out "$1" --epochs 3 --max-batches 2 --die-at-step 4; [ $? = 137 ] || exit 9; exec "$0" train --resume --out "$1" --epochs 3 --max-batches 2' "$P" "$R"

# =================================================================================================================
echo
echo "# $N cases in $(( $(date +%s) - T0 )) s; outputs in $OUT/cases, table in $OUT/results.tsv" | tee -a "$OUT/report.txt"
SUM="AUDIT-SUMMARY cases=$N"
for k in clear ok unclear crash hang silent-wrong data-lost spurious SKIP; do
  printf '  %-13s %d\n' "$k" "${COUNT[$k]:-0}" | tee -a "$OUT/report.txt"
  SUM+=" $(echo "$k" | tr 'A-Z' 'a-z')=${COUNT[$k]:-0}"
done
echo "$SUM" | tee -a "$OUT/report.txt"
bad=$(( ${COUNT[unclear]:-0} + ${COUNT[crash]:-0} + ${COUNT[hang]:-0} + ${COUNT[silent-wrong]:-0} + ${COUNT[data-lost]:-0} + ${COUNT[spurious]:-0} ))
[ "$bad" = 0 ]
