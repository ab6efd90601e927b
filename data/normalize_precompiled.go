package data

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// precompiledMap is the Precompiled normalizer of Hugging Face tokenizers: SentencePiece's
// compiled normalization rules ("precompiled_charsmap", e.g. nmt_nfkc), as the
// spm_precompiled crate reads them. The charsmap is a little-endian uint32 byte length of a
// Darts double-array trie, the trie's uint32 units, then a blob of NUL-terminated
// replacement strings; the trie maps a byte string to the offset of its replacement.
//
// Text is rewritten one extended grapheme cluster at a time: a cluster shorter than 6
// bytes whose shortest prefix is in the trie is replaced by that prefix's replacement
// (the rest of the cluster is dropped, as the reference does); otherwise each character is
// replaced by its own entry, or kept.
type precompiledMap struct {
	array      []uint32
	normalized string
	ascii      [utf8.RuneSelf]string // replacement of each ASCII byte
	asciiHas   [utf8.RuneSelf]bool
}

// parsePrecompiled decodes a base64 precompiled_charsmap.
func parsePrecompiled(b64 string) (*precompiledMap, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("precompiled_charsmap is not base64: %w", err)
	}
	return newPrecompiled(raw)
}

// newPrecompiled decodes a binary precompiled charsmap.
func newPrecompiled(raw []byte) (*precompiledMap, error) {
	if len(raw) < 4 {
		return nil, errors.New("precompiled_charsmap is too short")
	}
	trieSize := int(binary.LittleEndian.Uint32(raw))
	raw = raw[4:]
	if trieSize%4 != 0 || trieSize > len(raw) {
		return nil, fmt.Errorf("precompiled_charsmap: trie size %d does not fit the %d bytes that follow", trieSize, len(raw))
	}
	p := &precompiledMap{array: make([]uint32, trieSize/4)}
	for i := range p.array {
		p.array[i] = binary.LittleEndian.Uint32(raw[4*i:])
	}
	blob := raw[trieSize:]
	if !utf8.Valid(blob) {
		return nil, errors.New("precompiled_charsmap: the normalized strings are not valid UTF-8")
	}
	if len(p.array) == 0 {
		return nil, errors.New("precompiled_charsmap: empty trie")
	}
	p.normalized = string(blob)
	for c := range p.ascii {
		p.ascii[c], p.asciiHas[c] = p.transform(string(rune(c)))
	}
	return p, nil
}

// Darts double-array unit accessors, as in spm_precompiled.
func dartsHasLeaf(u uint32) bool  { return (u>>8)&1 == 1 }
func dartsValue(u uint32) uint32  { return u & (1<<31 - 1) }
func dartsLabel(u uint32) uint32  { return u & (1<<31 | 0xFF) }
func dartsOffset(u uint32) uint32 { return (u >> 10) << ((u & (1 << 9)) >> 6) }
func (p *precompiledMap) unit(i uint32) (uint32, bool) {
	if int(i) >= len(p.array) {
		return 0, false
	}
	return p.array[i], true
}

// firstMatch returns the value of the shortest prefix of key in the trie (the search stops
// at a NUL byte), and whether there is one. Out-of-range positions in a malformed trie
// count as no match.
func (p *precompiledMap) firstMatch(key string) (uint32, bool) {
	pos := uint32(0)
	u, ok := p.unit(pos)
	if !ok {
		return 0, false
	}
	pos ^= dartsOffset(u)
	for i := 0; i < len(key); i++ {
		c := uint32(key[i])
		if c == 0 {
			break
		}
		pos ^= c
		if u, ok = p.unit(pos); !ok || dartsLabel(u) != c {
			return 0, false
		}
		pos ^= dartsOffset(u)
		if dartsHasLeaf(u) {
			leaf, ok := p.unit(pos)
			if !ok {
				return 0, false
			}
			return dartsValue(leaf), true
		}
	}
	return 0, false
}

// transform returns the replacement of chunk's shortest prefix in the trie, and whether
// there is one.
func (p *precompiledMap) transform(chunk string) (string, bool) {
	v, ok := p.firstMatch(chunk)
	if !ok {
		return "", false
	}
	start := int(v)
	if start > len(p.normalized) {
		return "", true // malformed: an empty replacement rather than a crash
	}
	end := strings.IndexByte(p.normalized[start:], 0)
	if end < 0 {
		end = len(p.normalized) - start
	}
	out := p.normalized[start : start+end]
	if !utf8.ValidString(out) { // offset inside a character of a malformed blob
		return "", true
	}
	return out, true
}

// apply normalizes s.
func (p *precompiledMap) apply(s string) string {
	// Pure ASCII without replacements is common: return s unchanged. CR is left to the
	// general path (CR LF is one cluster, which may have an entry of its own).
	i := 0
	for i < len(s) && s[i] < utf8.RuneSelf && s[i] != '\r' && !p.asciiHas[s[i]] {
		i++
	}
	if i == len(s) {
		return s
	}
	if i > 0 {
		i-- // the last ASCII character may start a cluster with what follows
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	g := graphemeIter{s: s, pos: i}
	for {
		cl := g.next()
		if cl == "" {
			break
		}
		if len(cl) == 1 && cl[0] < utf8.RuneSelf {
			if p.asciiHas[cl[0]] {
				b.WriteString(p.ascii[cl[0]])
			} else {
				b.WriteByte(cl[0])
			}
			continue
		}
		if len(cl) < 6 {
			if rep, ok := p.transform(cl); ok {
				b.WriteString(rep)
				continue
			}
		}
		for j := 0; j < len(cl); {
			_, size := utf8.DecodeRuneInString(cl[j:])
			part := cl[j : j+size]
			if rep, ok := p.transform(part); ok {
				b.WriteString(rep)
			} else {
				b.WriteString(part)
			}
			j += size
		}
	}
	return b.String()
}
