import Foundation
import Glibc
import TestSupport
import Testing

@testable import Store

struct DataDirectoryTests {
    private func mode(_ path: String) -> mode_t {
        var info = stat()
        stat(path, &info)
        return info.st_mode & 0o777
    }

    @Test func createsAPrivateDirectoryAndTightensALooseOne() throws {
        let parent = TemporaryDirectory.make(prefix: "pushdoc-dd")
        let fresh = try DataDirectory(path: parent + "/a/b/data")
        #expect(mode(fresh.path) == 0o700)
        let loose = parent + "/loose"
        mkdir(loose, 0o755)
        chmod(loose, 0o755)
        _ = try DataDirectory(path: loose)
        #expect(mode(loose) == 0o700)
    }

    @Test func aDirectoryOrKeyThatIsNotTheEnginesOwnIsRefused() throws {
        let parent = TemporaryDirectory.make(prefix: "pushdoc-dd")
        let real = parent + "/real"
        mkdir(real, 0o700)
        symlink(real, parent + "/link")
        #expect { try DataDirectory(path: parent + "/link") } throws: { "\($0)".contains("is a symbolic link") }
        let foreign = parent + "/foreign"
        mkdir(foreign, 0o700)
        chown(foreign, 65534, 65534)
        #expect { try DataDirectory(path: foreign) } throws: { "\($0)".contains("belongs to uid 65534") }

        let directory = try DataDirectory(path: parent + "/keyed")
        let key = try directory.masterKey(environment: [:])
        chmod(directory.masterKeyPath, 0o644)
        #expect { try directory.masterKey(environment: [:]) } throws: { "\($0)".contains("may be read by others (mode 644)") }
        chmod(directory.masterKeyPath, 0o600)
        chown(directory.masterKeyPath, 65534, 65534)
        #expect { try directory.masterKey(environment: [:]) } throws: { "\($0)".contains("belongs to uid 65534") }
        chown(directory.masterKeyPath, geteuid(), getegid())
        #expect(try directory.masterKey(environment: [:]) == key)
        // A key that is a link to another file is not followed.
        unlink(directory.masterKeyPath)
        symlink(parent + "/elsewhere.key", directory.masterKeyPath)
        #expect { try directory.masterKey(environment: [:]) } throws: { "\($0)".contains("cannot open") }
    }

    @Test func aSecondHolderIsRefusedWithThePid() throws {
        let path = TemporaryDirectory.make(prefix: "pushdoc-dd")
        let holder = try DataDirectory(path: path)
        #expect {
            try DataDirectory(path: path)
        } throws: { error in
            "\(error)".contains("in use by another pushdoc engine (pid \(getpid()))")
        }
        withExtendedLifetime(holder) {}
    }

    @Test func createsTheMasterKeyOnceWithMode0600() throws {
        let directory = try DataDirectory(path: TemporaryDirectory.make(prefix: "pushdoc-dd"))
        let key = try directory.masterKey(environment: [:])
        #expect(key.count == 32)
        #expect(mode(directory.masterKeyPath) == 0o600)
        #expect(try directory.masterKey(environment: [:]) == key)
        #expect(Set(key).count > 8)  // random, not a constant
    }

    @Test func theEnvironmentKeyWinsAndIsChecked() throws {
        let directory = try DataDirectory(path: TemporaryDirectory.make(prefix: "pushdoc-dd"))
        let bytes = (0..<32).map { UInt8($0) }
        let key = try directory.masterKey(environment: ["PUSHDOC_MASTER_KEY": Data(bytes).base64EncodedString()])
        #expect(key == bytes)
        #expect(!FileManager.default.fileExists(atPath: directory.masterKeyPath))
        #expect(throws: DataDirectory.Failure.self) {
            try directory.masterKey(environment: ["PUSHDOC_MASTER_KEY": "dG9vIHNob3J0"])
        }
    }

    @Test func aDamagedKeyFileIsAnErrorNotANewKey() throws {
        let directory = try DataDirectory(path: TemporaryDirectory.make(prefix: "pushdoc-dd"))
        _ = FileManager.default.createFile(atPath: directory.masterKeyPath, contents: Data([1, 2, 3]))
        #expect(throws: DataDirectory.Failure.self) { try directory.masterKey(environment: [:]) }
    }
}
