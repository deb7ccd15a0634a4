#include "fergan/logging.h"
int main() { return 0; }
