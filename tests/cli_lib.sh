# cli_lib.sh: what the shell tests of the pipnet program share. Source it after setting `pipnet`:
#   dir      a fresh temporary folder, removed on exit
#   fail     print FAIL and the reason, exit 1
#   expect_error WHAT TEXT COMMAND...   the command must exit 2 with one line on stderr containing TEXT
dir=$(mktemp -d "/tmp/pipnet_$(basename "$0" .sh).XXXX")
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
expect_error() {
  local what=$1 want=$2; shift 2
  local out rc
  out=$("$@" 2>&1 >/dev/null); rc=$?
  [[ $rc == 2 ]] || fail "$what: expected exit 2, got $rc: $out"
  [[ $(printf '%s\n' "$out" | wc -l) == 1 ]] || fail "$what: expected one line, got: $out"
  [[ "$out" == *"$want"* ]] || fail "$what: message lacks '$want': $out"
}
