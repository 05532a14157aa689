/* placeholder replaced by the params unit tests */
int main(void)
{
	return 1;
}
