/*
 * no_entry.c - a shared object that does not export walbridge_plugin: the
 * loader must say which symbol is missing.
 */
int wb_example_not_a_plugin(void);
int wb_example_not_a_plugin(void)
{
    return 0;
}
