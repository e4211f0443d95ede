// Prints the Unicode security data Chatterbox needs to compare usernames (UTS #39), as read
// from the system's ICU: the confusable prototypes (the skeleton of each code point that has
// one) and the script extensions of every code point that has a script of its own.
// Built and run by generate.sh; the output is committed as
// Sources/ChatProtocol/UnicodeSecurityData.swift.
#include <stdio.h>
#include <string.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/uscript.h>
#include <unicode/uspoof.h>
#include <unicode/ustring.h>
#include <unicode/uversion.h>

static int codePoints(const UChar *text, int32_t length, UChar32 *out, int capacity) {
    int count = 0;
    for (int32_t i = 0; i < length && count < capacity;) {
        UChar32 c;
        U16_NEXT(text, i, length, c);
        out[count++] = c;
    }
    return count;
}

/// The script extensions of `c` as "Latn" or "Arab+Syrc"; empty for Common, Inherited, Unknown.
static void scriptKey(UChar32 c, char *key, size_t capacity) {
    UErrorCode status = U_ZERO_ERROR;
    UScriptCode scripts[64];
    int32_t count = uscript_getScriptExtensions(c, scripts, 64, &status);
    key[0] = 0;
    if (U_FAILURE(status)) return;
    for (int32_t i = 0; i < count; i++) {
        if (scripts[i] == USCRIPT_COMMON || scripts[i] == USCRIPT_INHERITED || scripts[i] == USCRIPT_UNKNOWN) {
            key[0] = 0;
            return;
        }
        if (key[0]) strncat(key, "+", capacity - strlen(key) - 1);
        strncat(key, uscript_getShortName(scripts[i]), capacity - strlen(key) - 1);
    }
}

int main(void) {
    UErrorCode status = U_ZERO_ERROR;
    USpoofChecker *checker = uspoof_open(&status);
    const UNormalizer2 *nfd = unorm2_getNFDInstance(&status);
    if (U_FAILURE(status)) {
        fprintf(stderr, "ICU: %s\n", u_errorName(status));
        return 1;
    }
    UVersionInfo unicode;
    u_getUnicodeVersion(unicode);
    char version[U_MAX_VERSION_STRING_LENGTH];
    u_versionToString(unicode, version);
    printf("UNICODE %s\n", version);
    u_getVersion(unicode);
    u_versionToString(unicode, version);
    printf("ICU %s\n", version);

    // Confusables: "source>prototype" in hex code points, prototype scalars joined by ".".
    for (UChar32 c = 0; c <= 0x10FFFF; c++) {
        if (c >= 0xD800 && c <= 0xDFFF) continue;
        if (u_charType(c) == U_UNASSIGNED) continue;
        UChar single[2];
        int32_t length = 0;
        U16_APPEND_UNSAFE(single, length, c);
        UChar decomposed[64];
        status = U_ZERO_ERROR;
        int32_t decomposedLength = unorm2_normalize(nfd, single, length, decomposed, 64, &status);
        // A code point NFD changes never reaches the mapping: skeletons start with NFD.
        if (U_FAILURE(status) || decomposedLength != length || u_strncmp(single, decomposed, length) != 0) continue;
        UChar skeleton[128];
        status = U_ZERO_ERROR;
        int32_t skeletonLength = uspoof_getSkeleton(checker, 0, single, length, skeleton, 128, &status);
        if (U_FAILURE(status)) continue;
        if (skeletonLength == length && u_strncmp(single, skeleton, length) == 0) continue;
        UChar32 points[64];
        int count = codePoints(skeleton, skeletonLength, points, 64);
        printf("C %X>", (unsigned)c);
        for (int i = 0; i < count; i++) printf(i ? ".%X" : "%X", (unsigned)points[i]);
        printf("\n");
    }

    // Scripts: "S first last scripts" for runs of code points with the same script extensions.
    char current[256] = "", key[256];
    UChar32 start = 0;
    for (UChar32 c = 0; c <= 0x110000; c++) {
        if (c <= 0x10FFFF) scriptKey(c, key, sizeof key); else key[0] = 0;
        if (strcmp(key, current) != 0) {
            if (current[0]) printf("S %X %X %s\n", (unsigned)start, (unsigned)(c - 1), current);
            strcpy(current, key);
            start = c;
        }
    }
    uspoof_close(checker);
    return 0;
}
