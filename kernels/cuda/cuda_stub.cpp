// cuda_stub.cpp: builds without nvcc still answer "is there a GPU?": no.
#include "kernels/cuda/cuda.h"

bool cuda_available() { return false; }
