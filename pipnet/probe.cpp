#include "pipnet/cli.h"
int cmd_probe(int, char**) { return 0; }
