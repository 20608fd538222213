package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/tidwall/wal"
	"go.etcd.io/bbolt"

	"github.com/iogate/iogate/spool"
)

// store is what the comparison asks of each candidate: append a frame so
// that it survives the process (in the page cache at least), acknowledge
// in order, and a group commit that makes both durable.
type store interface {
	Append(p []byte) error
	Ack(upTo uint64) error // every frame up to upTo is acknowledged
	Sync() error
	Close() error
}

// candidate opens a store in a directory, and reads back what one holds
// (for the crash runs).
type candidate struct {
	name string
	open func(dir string) (store, error)
	read func(dir string) (frames []frame, note string, err error)
}

type frame struct {
	seq     uint64
	payload []byte
}

var candidates = []candidate{
	{"spool", func(dir string) (store, error) { return openSpool(dir, false, false) }, readSpool},
	{"spool, SyncAsync", func(dir string) (store, error) { return openSpool(dir, true, false) }, readSpool},
	{"spool + cursor file", func(dir string) (store, error) { return openSpool(dir, false, true) }, readSpool},
	{"tidwall/wal + TruncateFront", func(dir string) (store, error) { return openWAL(dir, false) }, readWAL},
	{"tidwall/wal + cursor file", func(dir string) (store, error) { return openWAL(dir, true) }, readWAL},
	{"bbolt, tx per frame", func(dir string) (store, error) { return openBolt(dir, true) }, readBolt},
	{"bbolt, tx per group", func(dir string) (store, error) { return openBolt(dir, false) }, readBolt},
}

// --- the spool, acknowledged through ack records in its log, or through
// a cursor file instead (no spool.Ack: the log then holds no ack records)

type spoolStore struct {
	s      *spool.Spool
	async  bool
	cursor *cursorFile
	acked  uint64
}

func openSpool(dir string, async, cursor bool) (store, error) {
	s, _, err := spool.Open(dir, spool.Options{MaxBytes: 1 << 30, SegmentBytes: 4 << 20})
	if err != nil {
		return nil, err
	}
	x := &spoolStore{s: s, async: async}
	if cursor {
		x.cursor = &cursorFile{dir: dir}
	}
	return x, nil
}

func (x *spoolStore) Append(p []byte) error {
	_, err := x.s.Append("gps", p, time.Now())
	return err
}

func (x *spoolStore) Ack(upTo uint64) error {
	if x.cursor != nil {
		x.cursor.pos = upTo
		return nil
	}
	for ; x.acked < upTo; x.acked++ {
		if err := x.s.Ack(x.acked + 1); err != nil {
			return err
		}
	}
	return nil
}

func (x *spoolStore) Sync() error {
	if x.async {
		x.s.SyncAsync()
		return nil
	}
	if err := x.s.Sync(); err != nil {
		return err
	}
	if x.cursor != nil {
		return x.cursor.write()
	}
	return nil
}

func (x *spoolStore) Close() error { return x.s.Close() }

func readSpool(dir string) ([]frame, string, error) {
	s, rep, err := spool.Open(dir, spool.Options{MaxBytes: 1 << 30, SegmentBytes: 4 << 20})
	if err != nil {
		return nil, "", err
	}
	defer s.Close()
	note := "clean"
	if len(rep.Truncated) > 0 {
		note = rep.Truncated[0].String()
	}
	var fs []frame
	for r, err := range s.Records(s.First()) {
		if err != nil {
			return fs, note, err
		}
		fs = append(fs, frame{r.Seq, append([]byte(nil), r.Payload...)})
	}
	return fs, note, nil
}

// cursorFile is the other way to persist an acknowledged position: a small
// file replaced atomically (write, fdatasync, rename, fsync the directory).
type cursorFile struct {
	dir string
	pos uint64
}

func (c *cursorFile) write() error {
	tmp := filepath.Join(c.dir, "cursor.tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], c.pos)
	if _, err := f.Write(b[:]); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	f.Close()
	if err := os.Rename(tmp, filepath.Join(c.dir, "cursor")); err != nil {
		return err
	}
	d, err := os.Open(c.dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// --- tidwall/wal: no checksums, no cursor; TruncateFront rewrites what
// is left of the segment it cuts (and fsyncs it), or a cursor file.

type walStore struct {
	l                 *wal.Log
	cursor            *cursorFile
	n, acked, trimmed uint64
}

func openWAL(dir string, cursor bool) (store, error) {
	l, err := wal.Open(dir, &wal.Options{NoSync: true, SegmentSize: 4 << 20, LogFormat: wal.Binary, SegmentCacheSize: 2, DirPerms: 0o700, FilePerms: 0o600})
	if err != nil {
		return nil, err
	}
	x := &walStore{l: l}
	if cursor {
		x.cursor = &cursorFile{dir: dir}
	}
	last, err := l.LastIndex()
	x.n = last
	return x, err
}

func (x *walStore) Append(p []byte) error {
	x.n++
	return x.l.Write(x.n, p)
}

func (x *walStore) Ack(upTo uint64) error { x.acked = upTo; return nil }

func (x *walStore) Sync() error {
	if err := x.l.Sync(); err != nil {
		return err
	}
	if x.cursor != nil {
		x.cursor.pos = x.acked
		return x.cursor.write()
	}
	if x.acked > x.trimmed && x.acked < x.n {
		if err := x.l.TruncateFront(x.acked + 1); err != nil {
			return err
		}
		x.trimmed = x.acked
	}
	return nil
}

func (x *walStore) Close() error { return x.l.Close() }

func readWAL(dir string) ([]frame, string, error) {
	l, err := wal.Open(dir, &wal.Options{NoSync: true, LogFormat: wal.Binary})
	if err != nil {
		return nil, "", err
	}
	defer l.Close()
	first, _ := l.FirstIndex()
	last, _ := l.LastIndex()
	var fs []frame
	for i := first; i <= last && i > 0; i++ {
		p, err := l.Read(i)
		if err != nil {
			return fs, "", fmt.Errorf("read %d: %w", i, err)
		}
		fs = append(fs, frame{i, p})
	}
	return fs, "opened", nil
}

// --- bbolt: a B+tree with copy-on-write pages; one transaction per
// frame (NoSync, so commits do not fsync; Sync syncs), or frames held in
// an open transaction until the group commit (lost on a kill).

type boltStore struct {
	db                *bbolt.DB
	perFrame          bool
	tx                *bbolt.Tx
	n, acked, trimmed uint64
}

var bucket = []byte("frames")

func openBolt(dir string, perFrame bool) (store, error) {
	db, err := bbolt.Open(filepath.Join(dir, "spool.db"), 0o600, &bbolt.Options{NoSync: perFrame})
	if err != nil {
		return nil, err
	}
	x := &boltStore{db: db, perFrame: perFrame}
	err = db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err == nil {
			if k, _ := b.Cursor().Last(); k != nil {
				x.n = binary.BigEndian.Uint64(k)
			}
		}
		return err
	})
	return x, err
}

func key(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

func (x *boltStore) Append(p []byte) error {
	x.n++
	if x.perFrame {
		return x.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucket).Put(key(x.n), p) })
	}
	if x.tx == nil {
		tx, err := x.db.Begin(true)
		if err != nil {
			return err
		}
		x.tx = tx
	}
	return x.tx.Bucket(bucket).Put(key(x.n), append([]byte(nil), p...))
}

func (x *boltStore) Ack(upTo uint64) error { x.acked = upTo; return nil }

func (x *boltStore) trim(tx *bbolt.Tx) error {
	b := tx.Bucket(bucket)
	for ; x.trimmed < x.acked; x.trimmed++ {
		if err := b.Delete(key(x.trimmed + 1)); err != nil {
			return err
		}
	}
	return nil
}

func (x *boltStore) Sync() error {
	if x.perFrame {
		if err := x.db.Update(x.trim); err != nil {
			return err
		}
		return x.db.Sync()
	}
	if x.tx == nil {
		return nil
	}
	tx := x.tx
	x.tx = nil
	if err := x.trim(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (x *boltStore) Close() error {
	if x.tx != nil {
		x.tx.Rollback()
	}
	return x.db.Close()
}

func readBolt(dir string) (fs []frame, note string, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	db, err := bbolt.Open(filepath.Join(dir, "spool.db"), 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, "", err
	}
	defer db.Close()
	err = db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			fs = append(fs, frame{binary.BigEndian.Uint64(k), append([]byte(nil), v...)})
			return nil
		})
	})
	return fs, "opened", err
}
