#include "config.h"
#include "submit.h"
