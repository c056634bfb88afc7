/* h5out.c - placeholder until implemented. */
#include "finsim/util.h"
