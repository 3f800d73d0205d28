/* Linked with one layer's whole library and only the layers below it; see
 * meson.build. Building this program is the check. */
#include <stdio.h>

int main(void)
{
	printf("layer %s links without any layer above it\n", LAYER);
	return 0;
}
