package configs

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
)

// Provisioning configures tenants added at run time through the admin API
// (config key provisioning).
type Provisioning struct {
	// TenantsDir holds one YAML file per provisioned tenant (<id>.yaml:
	// keys tenant, the same keys as an entry of tenants, and users); the
	// config includes every file in it, at start and at each reload.
	TenantsDir string `mapstructure:"tenants_dir"`
	// PostgresDSN and MySQLDSN reach the servers where tenants' databases
	// are created (a user allowed to create databases); a new tenant's
	// DSN is this one with the database replaced.
	PostgresDSN string `mapstructure:"postgres_dsn"`
	MySQLDSN    string `mapstructure:"mysql_dsn"`
}

// TenantFile is one file of provisioning.tenants_dir.
type TenantFile struct {
	Tenant Tenant `mapstructure:"tenant"`
	Users  []User `mapstructure:"users"`
}

// LoadWith is Load with overlay applied to provisioning.tenants_dir first:
// overlay maps a file name in the directory to its would-be content (nil:
// the file is gone). It validates a change before the change is written.
func LoadWith(path string, overlay map[string][]byte) (*Config, error) {
	return load(path, overlay)
}

// includeTenantsDir appends the tenants and users of the directory's files
// (with overlay) to f.
func includeTenantsDir(f *File, overlay map[string][]byte) error {
	dir := f.Provisioning.TenantsDir
	if dir == "" {
		if len(overlay) > 0 {
			return errors.New("provisioning.tenants_dir: not set")
		}
		return nil
	}
	files := map[string][]byte{}
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("provisioning.tenants_dir: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return fmt.Errorf("provisioning.tenants_dir: %w", err)
		}
		files[e.Name()] = data
	}
	for name, data := range overlay {
		if data == nil {
			delete(files, name)
		} else {
			files[name] = data
		}
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		tf, err := DecodeTenantFile(files[n])
		if err != nil {
			return fmt.Errorf("provisioning.tenants_dir: %s: %w", n, err)
		}
		if want := strings.TrimSuffix(n, ".yaml"); tf.Tenant.ID != want {
			return fmt.Errorf("provisioning.tenants_dir: %s: tenant.id: %q, want %q (the file's name)", n, tf.Tenant.ID, want)
		}
		f.Tenants = append(f.Tenants, tf.Tenant)
		f.Users = append(f.Users, tf.Users...)
	}
	return nil
}

// DecodeTenantFile decodes one tenant file, refusing unknown keys.
func DecodeTenantFile(data []byte) (TenantFile, error) {
	v := viper.New()
	v.SetConfigType("yaml")
	var tf TenantFile
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		return tf, err
	}
	err := v.UnmarshalExact(&tf, func(dc *mapstructure.DecoderConfig) {
		dc.DecodeHook = mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToSliceHookFunc(","),
		)
		dc.ErrorUnused = true
	})
	return tf, err
}
