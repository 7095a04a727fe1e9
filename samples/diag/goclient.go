// goclient.go: the Go TLS client of samples/diag.
//
//	goclient NAME CAFILE
//
// GETs https://NAME/ with net/http, trusting only CAFILE. Go's crypto/x509
// verifies the chain and the name (Go 1.15+: the subjectAltName only, the
// CommonName is ignored). Exit status 0 if a response came, 1 otherwise.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: goclient NAME CAFILE")
		os.Exit(2)
	}
	pem, err := os.ReadFile(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true},
	}
	r, err := c.Get("https://" + os.Args[1] + "/")
	if err != nil {
		fmt.Fprintln(os.Stderr, "goclient:", err)
		os.Exit(1)
	}
	io.Copy(io.Discard, r.Body)
	r.Body.Close()
	fmt.Fprintln(os.Stderr, "goclient:", os.Args[1], r.Status)
}
