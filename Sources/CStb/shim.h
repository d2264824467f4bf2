// stb_image from Debian's libstb-dev: the declarations only; libstb.so holds the implementation.
#include <stb_image.h>
