// incluster is the in-cluster client of the real node's check (testenv/node-check.sh): run in a
// pod, it talks to the apiserver exactly as client-go's rest.InClusterConfig does — the address
// from KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT (which the kubelet sets from the
// `kubernetes` Service), the ServiceAccount token and CA from
// /var/run/secrets/kubernetes.io/serviceaccount, the serving certificate verified against that
// CA. It asks who it is (a SelfSubjectReview) and reads its own Pod (which needs the Role the
// check grants), and prints one line per answer:
//
//	user=system:serviceaccount:<ns>:<sa>
//	pod=<name> uid=<uid> node=<node>
//
// Standard library only, built static (CGO_ENABLED=0) by testenv/build.sh into the busybox test
// image, so it needs nothing in the image. Exits non-zero with the reason on any failure.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

const saDir = "/var/run/secrets/kubernetes.io/serviceaccount"

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "incluster: "+format+"\n", args...)
	os.Exit(1)
}

func read(name string) []byte {
	data, err := os.ReadFile(saDir + "/" + name)
	if err != nil {
		fail("%v", err)
	}
	return data
}

func main() {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		fail("KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not set (not in a pod?)")
	}
	token := strings.TrimSpace(string(read("token")))
	namespace := strings.TrimSpace(string(read("namespace")))
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(read("ca.crt")) {
		fail("%s/ca.crt holds no certificate", saDir)
	}
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{Proxy: nil, TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
	base := "https://" + net.JoinHostPort(host, port)
	call := func(method, path string, body []byte, out any) {
		req, err := http.NewRequest(method, base+path, bytes.NewReader(body))
		if err != nil {
			fail("%v", err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			fail("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 {
			fail("%s %s: HTTP %d: %s", method, path, resp.StatusCode, strings.TrimSpace(string(data)))
		}
		if err := json.Unmarshal(data, out); err != nil {
			fail("%s %s: %v", method, path, err)
		}
	}

	var review struct {
		Status struct {
			UserInfo struct {
				Username string `json:"username"`
			} `json:"userInfo"`
		} `json:"status"`
	}
	call("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
		[]byte(`{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`), &review)
	fmt.Printf("user=%s\n", review.Status.UserInfo.Username)

	name, err := os.Hostname() // a pod's host name is its name
	if err != nil {
		fail("%v", err)
	}
	var pod struct {
		Metadata struct {
			Name string `json:"name"`
			UID  string `json:"uid"`
		} `json:"metadata"`
		Spec struct {
			NodeName string `json:"nodeName"`
		} `json:"spec"`
	}
	call("GET", "/api/v1/namespaces/"+namespace+"/pods/"+name, nil, &pod)
	fmt.Printf("pod=%s uid=%s node=%s\n", pod.Metadata.Name, pod.Metadata.UID, pod.Spec.NodeName)
}
