#include "config.h"
#include "log.h"
