// Package cryptoreport makes a program state what its crypto really does at run time: which
// libcrypto is mapped into the process (/proc/self/maps), what that OpenSSL says about its
// FIPS state, and what Go's crypto/tls negotiates when offered a non-FIPS cipher first. The
// test suite compares this with what fipscheck's go.fips-toolchain says from the build info.
package cryptoreport

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"os"
	"strings"
	"time"
)

// Flag is the argument that makes a program print its report and exit.
const Flag = "--crypto-report"

// Report is printed as one JSON object.
type Report struct {
	Program   string   `json:"program"`
	Libcrypto []string `json:"libcrypto_mapped"` // every libcrypto file mapped in the process
	OpenSSL   *OpenSSL `json:"openssl"`          // nil when no libcrypto is mapped
	SHA256    string   `json:"sha256_abc"`
	MD5       string   `json:"md5_abc"` // crypto/md5 is Go's own code in every build
	ChaCha20  string   `json:"tls12_chacha20"` // "negotiated", or why the handshake failed
	Error     string   `json:"error,omitempty"`
}

// OpenSSL is the view of the libcrypto the Go crypto backend loaded, from its default library
// context: the one the backend uses.
type OpenSSL struct {
	Path           string `json:"path"`
	Version        string `json:"version"`
	FIPSProperties bool   `json:"default_properties_fips"`
	FIPSProvider   bool   `json:"fips_provider_available"`
	SHA256Provider string `json:"sha256_provider"`
}

// IfRequested prints the report and exits when the program was started with Flag.
func IfRequested() {
	if len(os.Args) >= 2 && os.Args[1] == Flag {
		Print()
	}
}

// Print prints the report and exits: 0, or 1 when a crypto operation failed.
func Print() {
	report := Make()
	out, _ := json.Marshal(report)
	fmt.Println(string(out))
	if report.Error != "" {
		os.Exit(1)
	}
	os.Exit(0)
}

// Make gathers the report.
func Make() Report {
	r := Report{Program: os.Args[0], Libcrypto: mappedLibcrypto()}
	sum := sha256.Sum256([]byte("abc"))
	r.SHA256 = hex.EncodeToString(sum[:])
	weak := md5.Sum([]byte("abc"))
	r.MD5 = hex.EncodeToString(weak[:])
	if len(r.Libcrypto) > 0 {
		r.OpenSSL = openSSLView(r.Libcrypto[0])
	}
	cert, err := selfSigned()
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.ChaCha20 = chacha20Handshake(cert)
	return r
}

func mappedLibcrypto() []string {
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return []string{"unreadable: " + err.Error()}
	}
	seen := map[string]bool{}
	var found []string
	for _, line := range strings.Split(string(maps), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 6 {
			continue
		}
		path := fields[5]
		if strings.Contains(path, "/libcrypto") && !seen[path] {
			seen[path] = true
			found = append(found, path)
		}
	}
	return found
}

// chacha20Handshake runs a TLS 1.2 handshake over an in-memory pipe in which the client
// offers only ECDHE-ECDSA-CHACHA20-POLY1305: Go's own crypto negotiates it; when the OpenSSL
// backend (or Go's FIPS module) is in force, crypto/tls is restricted to FIPS suites and
// refuses it.
func chacha20Handshake(cert tls.Certificate) string {
	server := &tls.Config{Certificates: []tls.Certificate{cert}, MaxVersion: tls.VersionTLS12}
	client := &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go func() { _ = tls.Server(a, server).Handshake(); a.Close() }()
	if err := tls.Client(b, client).Handshake(); err != nil {
		return "refused: " + err.Error()
	}
	return "negotiated"
}

func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("ecdsa key: %w", err)
	}
	template := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"aws-node.local"}}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
