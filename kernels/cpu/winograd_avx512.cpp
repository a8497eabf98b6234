// winograd_avx512.cpp: the tile transforms of winograd_tiles.h built with -mavx512f (used only after CPUID says so).
#include "kernels/cpu/cpu.h"
#include "kernels/cpu/winograd_tiles.h"

namespace cpu {
extern const WinogradTiles kWinogradAvx512 = WINOGRAD_TILES("avx512");
}
