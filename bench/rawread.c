/* rawread.c: the floor of the benchmark: read every packet of a capture with
 * libpcap and nothing else (bench/bench.sh compiles and times it).
 *
 *   rawread FILE   prints "packets bytes" (bytes: captured, summed)
 *
 * Each packet's first and last byte are read, so the data is really
 * touched, as any analyser must.
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	uint64_t n = 0, bytes = 0, sum = 0;
	pcap_t *p;
	int rc;
	if (argc != 2) {
		fprintf(stderr, "usage: rawread FILE\n");
		return 2;
	}
	p = pcap_open_offline(argv[1], err);
	if (!p) {
		fprintf(stderr, "rawread: %s\n", err);
		return 1;
	}
	while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
		n++;
		bytes += h->caplen;
		if (h->caplen)
			sum += d[0] + d[h->caplen - 1];
	}
	if (rc == PCAP_ERROR)
		fprintf(stderr, "rawread: %s\n", pcap_geterr(p));
	pcap_close(p);
	printf("%llu %llu\n", (unsigned long long)n, (unsigned long long)bytes);
	return sum == 1 ? 3 : 0; /* keep the sum alive */
}
