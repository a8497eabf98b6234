// sanitizer_options.cpp: the PIPNET_SANITIZE build's defaults, linked into the test and replay binaries so that
// ctest and a hand-run binary behave the same (ASAN_OPTIONS / LSAN_OPTIONS / UBSAN_OPTIONS still override).
//   ASan: leak detection on (LeakSanitizer runs at exit), abort so ctest sees a failure.
//   UBSan: print the stack; -fno-sanitize-recover=undefined already makes any UB fatal.
extern "C" const char* __asan_default_options() { return "detect_leaks=1:abort_on_error=1"; }
extern "C" const char* __ubsan_default_options() { return "print_stacktrace=1:halt_on_error=1"; }
// LeakSanitizer suppressions ("leak:<frame>\n" each): third-party code only, each with its reason. None today:
// libgomp's thread pool gave no report in the sanitizer test set (2026-12).
extern "C" const char* __lsan_default_suppressions() { return ""; }
