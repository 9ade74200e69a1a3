/* placeholder replaced by the CLI commit */
#include <stdio.h>
int main(void) { puts("walbridge " WB_VERSION); return 0; }
