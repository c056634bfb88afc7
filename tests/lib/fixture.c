/* fixture.c - placeholder, filled in with the redis fixture. */
#include "fixture.h"
