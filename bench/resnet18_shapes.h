// resnet18_shapes.h: every convolution of ResNet-18 at a 256x256 input, with how often each shape occurs.
// As GEMMs (im2col, per image): M = out channels K, N = P*Q, K = C*R*S.
#pragma once

struct ResNetConv {
  const char* name;
  int C, H, W, K, R, stride, pad, count;
};

inline constexpr ResNetConv kResNet18Convs[] = {
    {"conv1 7x7/2", 3, 256, 256, 64, 7, 2, 3, 1},
    {"layer1 3x3", 64, 64, 64, 64, 3, 1, 1, 4},
    {"layer2.0.conv1 3x3/2", 64, 64, 64, 128, 3, 2, 1, 1},
    {"layer2 3x3", 128, 32, 32, 128, 3, 1, 1, 3},
    {"layer2.0.downsample 1x1/2", 64, 64, 64, 128, 1, 2, 0, 1},
    {"layer3.0.conv1 3x3/2", 128, 32, 32, 256, 3, 2, 1, 1},
    {"layer3 3x3", 256, 16, 16, 256, 3, 1, 1, 3},
    {"layer3.0.downsample 1x1/2", 128, 32, 32, 256, 1, 2, 0, 1},
    {"layer4.0.conv1 3x3/2", 256, 16, 16, 512, 3, 2, 1, 1},
    {"layer4 3x3", 512, 8, 8, 512, 3, 1, 1, 3},
    {"layer4.0.downsample 1x1/2", 256, 16, 16, 512, 1, 2, 0, 1},
};
