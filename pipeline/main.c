/* main.c - placeholder until the pipeline lands. */
#include <stdio.h>

int main(void)
{
    fputs("iocstream: not built yet\n", stderr);
    return 2;
}
