#include "bench/bench_common.h"
