// One TLS handshake from Go's crypto/tls, printing what the client saw.
// Usage: tlsprobe -addr HOST:PORT [-max 1.1|1.2|1.3] [-suite ID] [-ca FILE]
// Prints "ok VERSION SUITE" or "error MESSAGE" (e.g. "remote error: tls: handshake failure").
package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"os"
	"strconv"
)

func main() {
	addr := flag.String("addr", "", "host:port")
	max := flag.String("max", "1.3", "highest version offered")
	suite := flag.String("suite", "", "the one TLS 1.0-1.2 cipher suite offered, as a number")
	ca := flag.String("ca", "", "CA file to trust")
	flag.Parse()
	versions := map[string]uint16{"1.0": tls.VersionTLS10, "1.1": tls.VersionTLS11, "1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13}
	config := &tls.Config{ServerName: "localhost", MinVersion: tls.VersionTLS10, MaxVersion: versions[*max]}
	if *suite != "" {
		id, _ := strconv.ParseUint(*suite, 0, 16)
		config.CipherSuites = []uint16{uint16(id)}
	}
	if *ca != "" {
		pem, err := os.ReadFile(*ca)
		if err != nil {
			fmt.Println("error", err)
			return
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		config.RootCAs = pool
	}
	conn, err := tls.Dial("tcp", *addr, config)
	if err != nil {
		fmt.Println("error", err)
		return
	}
	defer conn.Close()
	state := conn.ConnectionState()
	fmt.Printf("ok 0x%04x %s\n", state.Version, tls.CipherSuiteName(state.CipherSuite))
}
