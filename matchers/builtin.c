/*
 * builtin.c - the built-in IOC pack, from ../shared/incident-iocs.md:
 *   - the addresses BeyondTrust published for the Remote Support SaaS
 *     incident behind the Dec 2024 US Treasury breach (it published no
 *     hashes, names or domains);
 *   - the CVE-2024-12356 / CVE-2025-1094 request and log patterns, as regex
 *     rules (from the Metasploit module and the patch-diff write-up);
 *   - edge-device campaign indicators marked verbatim and high-confidence
 *     there: Ivanti Connect Secure, FortiOS, PAN-OS, Cisco ASA and IOS XE
 *     request paths and log lines, ArcaneDoor addresses, Volt Typhoon file
 *     names and commands.
 * Left out on purpose: values that are also legitimate names (WmiPrvSE.exe,
 * vm3dservice.exe, Win.exe, thin-scc-wrapper, /api/v2/cmdb/system/admin),
 * inferred patterns (I), and medium/low-confidence values, except the psql
 * error line the issue names. Rules keep the verbatim text; where a log may
 * hold a JSON-escaped copy, a backslash may be doubled.
 */
#include "matchers/builtin.h"

#include <errno.h>
#include <hs/hs.h>
#include <string.h>

#include "matchers/rules.h"
#include "matchers/util.h"

#define BT_REF                                                                 \
    "https://www.beyondtrust.com/"                                             \
    "remote-support-saas-service-security-investigation"
#define BT_DESC "BeyondTrust Remote Support SaaS incident (Treasury breach)"
#define BT "BeyondTrust"
#define MSF_REF                                                                \
    "rapid7/metasploit-framework:modules/exploits/linux/http/"                 \
    "beyondtrust_pra_rs_unauth_rce.rb"
#define TG_REF "tiangong blog post on CVE-2025-1094 (2025-04-02)"
#define SPLUNK "splunk/security_content:detections/web/"
#define SIGMA "SigmaHQ/sigma:rules-emerging-threats/"
#define FG_REF "Fortinet PSIRT FG-IR-22-398 (CVE-2022-42475)"
#define FG_DESC "FortiOS CVE-2022-42475 implant artefact"
#define TALOS_REF                                                              \
    "Cisco Talos ArcaneDoor actor-controlled addresses (as reproduced by "     \
    "THN/Censys)"
#define TALOS_DESC "ArcaneDoor (Cisco ASA campaign) actor-controlled address"
#define VOLT_REF "CISA AA23-144A; MITRE ATT&CK G1017"
#define VOLT "CISA"

#define IP4(v, ref, desc, prov)                                                \
    {                                                                          \
        IOCS_IPV4, v, IOCS_SEV_HIGH, desc, ref, prov, NULL, 0                  \
    }
#define FILE_(v, sev, ref, desc, prov)                                         \
    {                                                                          \
        IOCS_FILENAME, v, sev, desc, ref, prov, NULL, 0                        \
    }
#define RULE(id, re, flags, sev, ref, desc, prov)                              \
    {                                                                          \
        IOCS_REGEX, re, sev, desc, ref, prov, id, flags                        \
    }

static const struct iocs_builtin pack[] = {
    /* BeyondTrust incident addresses. */
    {IOCS_IPV4, "24.144.114.85", IOCS_SEV_HIGH, BT_DESC, BT_REF, BT, NULL, 0},
    {IOCS_IPV4, "142.93.119.175", IOCS_SEV_HIGH, BT_DESC, BT_REF, BT, NULL, 0},
    {IOCS_IPV4, "157.230.183.1", IOCS_SEV_HIGH, BT_DESC, BT_REF, BT, NULL, 0},
    {IOCS_IPV4, "192.81.209.168", IOCS_SEV_HIGH, BT_DESC, BT_REF, BT, NULL, 0},
    {IOCS_IPV6, "2604:a880:400:d1::7293:c001", IOCS_SEV_HIGH, BT_DESC, BT_REF,
     BT, NULL, 0},
    {IOCS_IPV6, "2604:a880:400:d1::72ad:3001", IOCS_SEV_HIGH, BT_DESC, BT_REF,
     BT, NULL, 0},
    {IOCS_IPV6, "2604:a880:400:d1::7716:1", IOCS_SEV_HIGH, BT_DESC, BT_REF, BT,
     NULL, 0},
    {IOCS_IPV6, "2604:a880:400:d1::7df0:7001", IOCS_SEV_HIGH, BT_DESC, BT_REF,
     BT, NULL, 0},
    {IOCS_IPV6, "2604:a880:400:d1::8622:f001", IOCS_SEV_HIGH, BT_DESC, BT_REF,
     BT, NULL, 0},

    /* CVE-2024-12356 / CVE-2025-1094 requests and logs. */
    RULE("bt-cve-2024-12356-ws-protocol", "ingredi support desk customer thin",
         0, IOCS_SEV_HIGH, MSF_REF,
         "BeyondTrust RS/PRA: WebSocket protocol of the vulnerable "
         "thin-scc-wrapper app (CVE-2024-12356 exploit)",
         "Rapid7"),
    RULE("bt-get-rdf-version-check", "/get_rdf\\?comp=sdcust", 0,
         IOCS_SEV_MEDIUM, MSF_REF,
         "BeyondTrust RS/PRA version check used before exploitation", "Rapid7"),
    RULE("bt-cve-2025-1094-payload-bytes", "\\xC0'; \\\\!", 0,
         IOCS_SEV_CRITICAL, MSF_REF "; " TG_REF,
         "CVE-2025-1094: invalid UTF-8 lead byte 0xC0 then the psql \\! "
         "meta-command",
         "Rapid7"),
    RULE("bt-cve-2024-12356-payload-text", "\\\\{1,2}xc0'; \\\\{1,2}!",
         HS_FLAG_CASELESS, IOCS_SEV_CRITICAL, MSF_REF,
         "CVE-2024-12356: \\xC0'; \\! argument injection text in a "
         "WebSocket frame",
         "Rapid7"),
    RULE("bt-cve-2025-1094-psql-error",
         "invalid byte sequence for encoding \"UTF8\": 0xc0 0x27", 0,
         IOCS_SEV_HIGH, TG_REF,
         "PostgreSQL error logged while CVE-2025-1094 is exploited (lab "
         "repro)",
         "tiangong"),

    /* Ivanti Connect Secure CVE-2023-46805 / CVE-2024-21887. */
    RULE("ivanti-cve-2024-21887-rce",
         "/api/v1/totp/user-backup-code/\\.\\./\\.\\./system/maintenance/"
         "archiving/cloud-server-test-connection",
         0, IOCS_SEV_CRITICAL,
         SPLUNK "ivanti_connect_secure_command_injection_attempts.yml",
         "Ivanti Connect Secure command injection (CVE-2023-46805 + "
         "CVE-2024-21887)",
         "Splunk"),
    RULE("ivanti-cve-2024-21887-keys-status",
         "/api/v1/totp/user-backup-code/\\.\\./\\.\\./license/keys-status/", 0,
         IOCS_SEV_CRITICAL,
         SPLUNK "ivanti_connect_secure_command_injection_attempts.yml",
         "Ivanti Connect Secure command injection (CVE-2023-46805 + "
         "CVE-2024-21887)",
         "Splunk"),
    RULE("ivanti-cve-2023-46805-system-information",
         "/api/v1/totp/user-backup-code/\\.\\./\\.\\./system/"
         "system-information",
         0, IOCS_SEV_HIGH,
         SPLUNK "ivanti_connect_secure_system_information_access_via_auth_"
                "bypass.yml",
         "Ivanti Connect Secure auth bypass reconnaissance", "Splunk"),
    RULE("ivanti-bookmark-probe",
         "/api/v1/configuration/users/user-roles/user-role/rest-userrole1/"
         "web/web-bookmarks/bookmark",
         0, IOCS_SEV_MEDIUM,
         SPLUNK "access_to_vulnerable_ivanti_connect_secure_bookmark_"
                "endpoint.yml",
         "Ivanti Connect Secure vulnerability/mitigation probe", "Splunk"),

    /* FortiOS. */
    RULE("fortios-cve-2022-42475-sslvpnd-crash",
         "logdesc=\"Application crashed\".*application:sslvpnd,.*Signal 11 "
         "received, Backtrace:",
         0, IOCS_SEV_CRITICAL, FG_REF,
         "FortiOS SSL-VPN crash seen with CVE-2022-42475", "Fortinet"),
    FILE_("/data/lib/libips.bak", IOCS_SEV_CRITICAL, FG_REF, FG_DESC,
          "Fortinet"),
    FILE_("/data/lib/libgif.so", IOCS_SEV_CRITICAL, FG_REF, FG_DESC,
          "Fortinet"),
    FILE_("/data/lib/libiptcp.so", IOCS_SEV_CRITICAL, FG_REF, FG_DESC,
          "Fortinet"),
    FILE_("/data/lib/libipudp.so", IOCS_SEV_CRITICAL, FG_REF, FG_DESC,
          "Fortinet"),
    FILE_("/data/lib/libjepg.so", IOCS_SEV_CRITICAL, FG_REF, FG_DESC,
          "Fortinet"),
    FILE_("/var/.sslvpnconfigbk", IOCS_SEV_CRITICAL, FG_REF, FG_DESC,
          "Fortinet"),
    FILE_("/data/etc/wxd.conf", IOCS_SEV_CRITICAL, FG_REF, FG_DESC, "Fortinet"),
    {IOCS_STRING, "user=\"Local_Process_Access\"", IOCS_SEV_CRITICAL,
     "FortiOS CVE-2022-40684 authentication bypass",
     SPLUNK "fortinet_appliance_auth_bypass.yml", "Splunk", NULL, 0},
    RULE("fortios-cve-2023-27997",
         "/remote/(?:hostcheck_validate|logincheck)\\?[^ \\n]*enc=", 0,
         IOCS_SEV_HIGH,
         SIGMA ".../CVE-2023-27997/web_cve_2023_27997_pre_authentication_"
               "rce.yml",
         "FortiOS SSL-VPN CVE-2023-27997 pre-authentication RCE request",
         "SigmaHQ"),

    /* PAN-OS CVE-2024-3400. */
    RULE("panos-cve-2024-3400-unmarshal",
         "failed to unmarshal session\\((?:\\.\\./|\\./\\.\\./|/\\.\\.|"
         "%2e%2e%2f|%252e%252e%252f)",
         HS_FLAG_CASELESS, IOCS_SEV_CRITICAL,
         SIGMA ".../CVE-2024-3400/paloalto_globalprotect_exploit_cve_2024_3400_"
               "command_injection.yml",
         "PAN-OS GlobalProtect CVE-2024-3400 path traversal in the session "
         "cookie",
         "SigmaHQ"),
    RULE("panos-cve-2024-3400-telemetry",
         "/opt/panlogs/tmp/device_telemetry/.*(?:\\{IFS\\}|base64|bash|curl|"
         "http)",
         0, IOCS_SEV_CRITICAL,
         SIGMA ".../CVE-2024-3400/paloalto_globalprotect_exploit_cve_2024_3400_"
               "command_injection.yml",
         "PAN-OS CVE-2024-3400 command injection through device telemetry",
         "SigmaHQ"),

    /* Cisco ASA/FTD and IOS XE. */
    RULE("cisco-asa-cve-2025-20333",
         "/\\+CSCOU\\+/MacTunnelStart\\.jar|/\\+CSCOL\\+/"
         "csvrloader(?:64\\.cab|\\.jar)",
         0, IOCS_SEV_HIGH,
         SIGMA ".../CVE-2025-20333/web_exploit_cve_2025_20333.yml",
         "Cisco ASA/FTD CVE-2025-20333/20362 fingerprinting or exploitation",
         "SigmaHQ"),
    RULE("cisco-iosxe-cve-2023-20198-wsma",
         "/webui_wsma_https?|/%2577eb%2575i_%2577sma_https?", HS_FLAG_CASELESS,
         IOCS_SEV_CRITICAL,
         "CISA AA25-239A "
         "(https://www.cisa.gov/news-events/cybersecurity-advisories/"
         "aa25-239a) digests; Metasploit Cisco IOS XE module",
         "Cisco IOS XE CVE-2023-20198 WSMA request (double-encoded bypass "
         "too)",
         "CISA"),
    RULE("cisco-iosxe-badcandy-implant",
         "/webui/logoutconfirm\\.html\\?logon_hash=1", 0, IOCS_SEV_CRITICAL,
         SPLUNK "cisco_ios_xe_implant_access.yml",
         "Cisco IOS XE BadCandy implant check or access", "Splunk"),
    RULE("cisco-iosxe-cve-2023-20198-syslog",
         "%(?:SEC_LOGIN-5-WEBLOGIN_SUCCESS|SYS-5-CONFIG_P|WEBUI-6-INSTALL_"
         "OPERATION_INFO):.*\\b(?:cisco_tac_admin|cisco_support)\\b",
         0, IOCS_SEV_CRITICAL,
         SIGMA "2023/Exploits/CVE-2023-20198/cisco_syslog_cve_2023_20198_ios_"
               "xe_web_ui.yml",
         "Cisco IOS XE CVE-2023-20198: the implant's accounts in syslog",
         "SigmaHQ"),

    /* ArcaneDoor (Cisco ASA) addresses. */
    IP4("192.36.57.181", TALOS_REF, TALOS_DESC, "Cisco Talos"),
    IP4("185.167.60.85", TALOS_REF, TALOS_DESC, "Cisco Talos"),
    IP4("185.227.111.17", TALOS_REF, TALOS_DESC, "Cisco Talos"),
    IP4("176.31.18.153", TALOS_REF, TALOS_DESC, "Cisco Talos"),
    IP4("172.105.90.154", TALOS_REF, TALOS_DESC, "Cisco Talos"),
    IP4("185.244.210.120", TALOS_REF, TALOS_DESC, "Cisco Talos"),
    IP4("45.86.163.224", TALOS_REF, TALOS_DESC, "Cisco Talos"),
    IP4("172.105.94.93", TALOS_REF, TALOS_DESC, "Cisco Talos"),
    IP4("213.156.138.77", TALOS_REF, TALOS_DESC, "Cisco Talos"),
    IP4("89.44.198.189", TALOS_REF, TALOS_DESC, "Cisco Talos"),
    IP4("45.77.52.253", TALOS_REF, TALOS_DESC, "Cisco Talos"),
    IP4("103.114.200.230", TALOS_REF, TALOS_DESC, "Cisco Talos"),
    IP4("212.193.2.48", TALOS_REF, TALOS_DESC, "Cisco Talos"),
    IP4("51.15.145.37", TALOS_REF, TALOS_DESC, "Cisco Talos"),
    IP4("89.44.198.196", TALOS_REF, TALOS_DESC, "Cisco Talos"),
    IP4("131.196.252.148", TALOS_REF, TALOS_DESC, "Cisco Talos"),
    IP4("213.156.138.78", TALOS_REF, TALOS_DESC, "Cisco Talos"),
    IP4("121.227.168.69", TALOS_REF, TALOS_DESC, "Cisco Talos"),
    IP4("213.156.138.68", TALOS_REF, TALOS_DESC, "Cisco Talos"),
    IP4("194.4.49.6", TALOS_REF, TALOS_DESC, "Cisco Talos"),
    IP4("185.244.210.65", TALOS_REF, TALOS_DESC, "Cisco Talos"),
    IP4("216.238.75.155", TALOS_REF, TALOS_DESC, "Cisco Talos"),

    /* Volt Typhoon. */
    FILE_("cisco_up.exe", IOCS_SEV_HIGH, VOLT_REF,
          "Volt Typhoon FRP/Earthworm binary name", VOLT),
    FILE_("cl64.exe", IOCS_SEV_HIGH, VOLT_REF,
          "Volt Typhoon FRP/Earthworm binary name", VOLT),
    FILE_("watchdogd.exe", IOCS_SEV_HIGH, VOLT_REF,
          "Volt Typhoon FRP/Earthworm binary name", VOLT),
    FILE_("WmiPreSV.exe", IOCS_SEV_HIGH, VOLT_REF,
          "Volt Typhoon FRP/Earthworm binary name", VOLT),
    FILE_("rult3uil.log", IOCS_SEV_CRITICAL,
          "MITRE ATT&CK G1017 citing CISA AA24-038A",
          "Volt Typhoon keylog file on domain controllers", "MITRE"),
    RULE("volt-typhoon-ntdsutil-ifm",
         "ntdsutil \\\\?\"ac i ntds\\\\?\" ifm \\\\?\"create full "
         "C:\\\\{1,2}Windows\\\\{1,2}Temp\\\\{1,2}Pro",
         HS_FLAG_CASELESS, IOCS_SEV_CRITICAL, VOLT_REF,
         "Volt Typhoon ntds.dit theft with ntdsutil (IFM copy to "
         "C:\\Windows\\Temp\\Pro)",
         VOLT),
    RULE("volt-typhoon-wmic-logicaldisk",
         "wmic path win32_logicaldisk get "
         "caption,filesystem,freespace,size,volumename",
         HS_FLAG_CASELESS, IOCS_SEV_MEDIUM, VOLT_REF,
         "Volt Typhoon disk discovery command", VOLT),
    RULE("volt-typhoon-portproxy-9999",
         "netsh interface portproxy add v4tov4 listenaddress=0\\.0\\.0\\.0 "
         "listenport=9999 connectaddress=[^ \\n]+ connectport=8443 "
         "protocol=tcp",
         HS_FLAG_CASELESS, IOCS_SEV_CRITICAL, VOLT_REF,
         "Volt Typhoon port proxy (listen 9999, connect 8443)", VOLT),
    RULE("volt-typhoon-portproxy-50100",
         "netsh interface portproxy add v4tov4 [^\\n]*listenport=50100 "
         "[^\\n]*connectport=1433",
         HS_FLAG_CASELESS, IOCS_SEV_CRITICAL, VOLT_REF,
         "Volt Typhoon port proxy (listen 50100, connect 1433)", VOLT),
};

const struct iocs_builtin *iocs_builtin_pack(size_t *n)
{
    *n = sizeof(pack) / sizeof(pack[0]);
    return pack;
}

int iocs_builtin_load(struct iocs_iocset *set, char *errbuf, size_t errlen)
{
    char norm[IOCS_IOC_MAX + 1], why2[256];

    for (size_t i = 0; i < sizeof(pack) / sizeof(pack[0]); i++) {
        const struct iocs_builtin *b = &pack[i];
        enum iocs_type t = b->type;
        struct iocs_ioc ioc;
        const char *why = NULL;
        size_t len;
        int err;

        err = iocs_ioc_normalise(&t, b->value, strlen(b->value), norm,
                                 sizeof(norm), &len, &why);
        if (err)
            return iocs_seterr(errbuf, errlen, err, "builtin '%s': %s",
                               b->value, why ? why : strerror(-err));
        if (t == IOCS_REGEX) {
            err = iocs_rules_check(norm, b->hs_flags, why2, sizeof(why2));
            if (err)
                return iocs_seterr(errbuf, errlen, err,
                                   "builtin rule %s: Hyperscan: %s", b->rule_id,
                                   why2);
        }
        ioc = (struct iocs_ioc){.type = t,
                                .severity = b->severity,
                                .value = norm,
                                .len = len,
                                .feed = "builtin",
                                .provider = b->provider,
                                .description = b->description,
                                .reference = b->reference,
                                .confidence = -1,
                                .hs_flags = b->hs_flags,
                                .rule_id = b->rule_id};
        err = iocs_iocset_add(set, &ioc, NULL);
        if (err)
            return err;
    }
    return 0;
}
