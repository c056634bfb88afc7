/* mc_kernel.c - placeholder until implemented. */
#include "finsim/util.h"
