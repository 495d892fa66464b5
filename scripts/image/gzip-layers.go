// Command gzip-layers prints the size of each layer tar as `docker push` would store it: Go's compress/gzip at
// gzip.DefaultCompression, written through gzip.NewWriter exactly as moby does (daemon/internal/distribution/push.go,
// compress(): gzip.NewWriter over a bufio.Writer; BuildKit's util/compression/gzip.go uses
// gzip.NewWriterLevel(dest, gzip.DefaultCompression) unless a level is asked). Standard library only.
//
//	go run scripts/image/gzip-layers.go LAYER.tar...   # or: DIR (a `buildah push --disable-compression IMAGE dir:DIR`)
//
// Prints one line per layer (bytes uncompressed, bytes gzip, file) and the totals, in bytes and MB (10^6).
package main

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// gzipSize compresses one file as moby's compress() does and returns the compressed length.
func gzipSize(path string) (int64, int64, error) {
	in, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer in.Close()
	out := &countingWriter{}
	buf := bufio.NewWriterSize(out, 32768) // compressionBufSize in push.go; it does not change the bytes
	zw := gzip.NewWriter(buf)              // gzip.DefaultCompression
	read, err := io.Copy(zw, in)
	if err == nil {
		err = zw.Close()
	}
	if err == nil {
		err = buf.Flush()
	}
	return read, out.n, err
}

// layers expands a `dir:` layout (manifest.json listing the layer digests) into its layer files, in order.
func layers(args []string) ([]string, error) {
	var files []string
	for _, arg := range args {
		info, err := os.Stat(arg)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			files = append(files, arg)
			continue
		}
		raw, err := os.ReadFile(filepath.Join(arg, "manifest.json"))
		if err != nil {
			return nil, err
		}
		var manifest struct {
			Layers []struct{ Digest string } `json:"layers"`
		}
		if err := json.Unmarshal(raw, &manifest); err != nil {
			return nil, err
		}
		for _, layer := range manifest.Layers {
			files = append(files, filepath.Join(arg, strings.TrimPrefix(layer.Digest, "sha256:")))
		}
	}
	return files, nil
}

func main() {
	files, err := layers(os.Args[1:])
	if err != nil || len(files) == 0 {
		fmt.Fprintf(os.Stderr, "usage: go run gzip-layers.go LAYER.tar... | DIR_LAYOUT (%v)\n", err)
		os.Exit(2)
	}
	var totalPlain, totalGzip int64
	fmt.Printf("# Go %s compress/gzip, gzip.DefaultCompression\n", runtime.Version())
	for _, file := range files {
		plain, compressed, err := gzipSize(file)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", file, err)
			os.Exit(1)
		}
		totalPlain += plain
		totalGzip += compressed
		fmt.Printf("%12d %12d  %s\n", plain, compressed, file)
	}
	fmt.Printf("%12d %12d  total bytes (uncompressed, gzip)\n", totalPlain, totalGzip)
	fmt.Printf("%12.2f %12.2f  total MB\n", float64(totalPlain)/1e6, float64(totalGzip)/1e6)
}
