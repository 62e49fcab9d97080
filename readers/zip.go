package readers

import (
	"archive/zip"
	"fmt"
	"sort"
	"strings"
)

// Zipped CSV, as the OSS bill subscription delivers it (CONTRACT.md, issue
// 11): an archive ending in .zip (or .csv.zip) holds CSV members, each read
// as a table of its own, in name order, named "archive.zip:member.csv" in
// rejects and in the manifest.

// zipSep separates an archive from a member in a table's name.
const zipSep = ".zip:"

// ArchivePath returns the file a table's name lives in: the archive of a
// zip member ("a.zip:b.csv" is in "a.zip"), else the name itself.
func ArchivePath(name string) string {
	if i := strings.LastIndex(strings.ToLower(name), zipSep); i >= 0 {
		return name[:i+len(".zip")]
	}
	return name
}

func isZip(name string) bool { return strings.HasSuffix(strings.ToLower(name), ".zip") }

// zipMembers lists the CSV members of an archive, in name order, as table
// names.
func zipMembers(archive string) ([]string, error) {
	z, err := zip.OpenReader(archive)
	if err != nil {
		return nil, fmt.Errorf("%s: not a readable zip archive: %v", archive, err)
	}
	defer z.Close()
	var names []string
	for _, f := range z.File {
		if !f.FileInfo().IsDir() && strings.HasSuffix(strings.ToLower(f.Name), ".csv") {
			names = append(names, archive+":"+f.Name)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: the archive holds no .csv file", archive)
	}
	sort.Strings(names)
	return names, nil
}

// zipCloser closes a member and its archive.
type zipCloser struct {
	member interface{ Close() error }
	z      *zip.ReadCloser
}

func (c zipCloser) Close() error {
	c.member.Close()
	return c.z.Close()
}

// openZipMember opens "archive.zip:member.csv" as a CSV table.
func openZipMember(name string) (Table, error) {
	archive := ArchivePath(name)
	member := name[len(archive)+1:]
	z, err := zip.OpenReader(archive)
	if err != nil {
		return nil, fmt.Errorf("%s: not a readable zip archive: %v", archive, err)
	}
	for _, f := range z.File {
		if f.Name == member {
			rc, err := f.Open()
			if err != nil {
				z.Close()
				return nil, fmt.Errorf("%s: %v", name, err)
			}
			return readCSV(name, rc, zipCloser{rc, z}, false)
		}
	}
	z.Close()
	return nil, fmt.Errorf("%s: no such member in the archive", name)
}
