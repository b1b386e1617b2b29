#include "config.h"
#include "conf.h"
