/*
 * fuzz_der.c — libFuzzer harness for the DER walkers of section 6 that read a
 * server's certificate: tls_spy_self_signed() (run on an untrusted chain, to
 * name the failure) and tls_spy_has_ip() (iPAddress names for IP literals).
 * The input is the "certificate"; the first byte picks an IPv4 or IPv6 address
 * to look for. Memory safety is the property (ASan/UBSan).
 */
#define ECSDEPLOY_TEST 1
#include "../../ecsdeploy.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tls_spy s;
	static const unsigned char ip[16] = { 127, 0, 0, 1 };

	if (size < 1 || size - 1 > sizeof(s.ee))
		return 0;
	memcpy(s.ee, data + 1, size - 1);
	s.ee_len = size - 1;
	s.ee_overflow = 0;
	(void)tls_spy_self_signed(&s);
	(void)tls_spy_has_ip(&s, ip, (data[0] & 1) ? 16 : 4);
	return 0;
}
