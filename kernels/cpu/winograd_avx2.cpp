// winograd_avx2.cpp: the tile transforms of winograd_tiles.h built with -mavx2 -mfma (used only after CPUID says so).
#include "kernels/cpu/cpu.h"
#include "kernels/cpu/winograd_tiles.h"

namespace cpu {
extern const WinogradTiles kWinogradAvx2 = WINOGRAD_TILES("avx2");
}
