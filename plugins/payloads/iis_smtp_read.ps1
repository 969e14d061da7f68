# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

<#
.SYNOPSIS
Reads the IIS SMTP virtual servers (and, when asked, their domains) from the IIS 6 metabase.

.DESCRIPTION
Fixed payload of the mailrelay.smtp collection, run through ansible.windows.win_powershell.
It changes nothing. Everything it needs arrives as parameters; it returns one JSON document
in $Ansible.Result (see plugins/module_utils/_metabase.py for the wire format):

    {"contract": 1, "service": {"status": "Running"},
     "servers": [{"index": 1, "properties": {"ServerComment": "...", ...},
                  "domains": [{"name": "example.org", "properties": {...}}] or null}]}

ADSI (IIS://localhost/SMTPSVC) serves every property except those marked "wmi", which come
from root\MicrosoftIISv2 IIsSmtpServerSetting (RelayIpList arrives there as uint8[]).
Binary values are base64; RoutePassword-like SECRET properties are reported as set or not set.
#>
[CmdletBinding(SupportsShouldProcess)]
param(
    # "Name:TYPE:adsi|wmi" for every virtual server property to read.
    [string[]]$ServerProperties = @(),
    # "Name:TYPE:adsi" for every domain property to read.
    [string[]]$DomainProperties = @(),
    # '' no domains, '*' the domains of every virtual server, else those of the server with this ServerComment.
    [string]$DomainsOf = ''
)

$ErrorActionPreference = 'Stop'

#region read-state (identical in iis_smtp_read.ps1 and iis_smtp_apply.ps1; a unit test compares them)
$PropertyTypes = @('DWORD', 'BOOL', 'STRING', 'MULTISZ', 'BINARY', 'IPSECURITY', 'SECRET')

function ConvertTo-PropertySpec {
    param([string[]]$Text)
    $specs = [Collections.Generic.List[object]]::new()
    foreach ($item in $Text) {
        $parts = $item -split ':'
        $valid = $parts.Count -eq 3 -and $parts[0] -match '^[A-Za-z0-9]+$'
        if (-not $valid -or $PropertyTypes -notcontains $parts[1] -or @('adsi', 'wmi') -notcontains $parts[2]) {
            throw "MAILRELAY:bad_spec: '$item' is not Name:TYPE:adsi|wmi"
        }
        $specs.Add(@{ Name = $parts[0]; Type = $parts[1]; Via = $parts[2] })
    }
    , $specs
}

function Get-SmtpService {
    $service = [ADSI]'IIS://localhost/SMTPSVC'
    try {
        $service.psbase.RefreshCache()
    }
    catch {
        throw "MAILRELAY:smtp_missing: the IIS 6 metabase has no SMTPSVC key ($($_.Exception.Message))"
    }
    $service
}

function Get-WmiServerSetting {
    $byName = @{}
    try {
        $all = Get-WmiObject -Namespace 'root\MicrosoftIISv2' -Class 'IIsSmtpServerSetting'
    }
    catch {
        throw "MAILRELAY:wmi_missing: root\MicrosoftIISv2 cannot be read ($($_.Exception.Message))"
    }
    foreach ($setting in @($all)) {
        $byName[[string]$setting.Name] = $setting
    }
    $byName
}

function ConvertTo-StringArray {
    param($Value)
    $list = [Collections.Generic.List[string]]::new()
    foreach ($item in @($Value)) {
        if ($null -ne $item) {
            $list.Add([string]$item)
        }
    }
    , $list.ToArray()
}

function Read-IPSecurity {
    param($Value)
    $get = [Reflection.BindingFlags]'Public, Instance, GetProperty'
    $type = $Value.GetType()
    @{
        grant_by_default = [bool]$type.InvokeMember('GrantByDefault', $get, $null, $Value, $null)
        ip_grant = ConvertTo-StringArray -Value $type.InvokeMember('IPGrant', $get, $null, $Value, $null)
        ip_deny = ConvertTo-StringArray -Value $type.InvokeMember('IPDeny', $get, $null, $Value, $null)
    }
}

function Read-AdsiValue {
    param($Entry, $Spec)
    $values = $Entry.psbase.Properties[$Spec.Name]
    if ($null -eq $values -or $values.Count -eq 0) {
        return $null
    }
    $value = $values.Value
    switch ($Spec.Type) {
        'DWORD' {
            return [long]$value
        }
        'BOOL' {
            return [bool]$value
        }
        'STRING' {
            return [string]$value
        }
        'MULTISZ' {
            return , (ConvertTo-StringArray -Value $value)
        }
        'BINARY' {
            return [Convert]::ToBase64String([byte[]]$value)
        }
        'IPSECURITY' {
            return Read-IPSecurity -Value $value
        }
        'SECRET' {
            return (-not [string]::IsNullOrEmpty([string]$value))
        }
    }
}

function Read-WmiValue {
    param($Setting, $Spec)
    if ($Spec.Type -ne 'BINARY') {
        throw "MAILRELAY:bad_spec: only BINARY properties are read through WMI, not $($Spec.Name)"
    }
    if ($null -eq $Setting) {
        return $null
    }
    $value = $Setting.psbase.GetPropertyValue($Spec.Name)
    if ($null -eq $value) {
        return $null
    }
    [Convert]::ToBase64String([byte[]]$value)
}

function Read-Properties {
    param($Entry, $Setting, $Specs)
    $properties = @{}
    foreach ($spec in $Specs) {
        try {
            if ($spec.Via -eq 'wmi') {
                $properties[$spec.Name] = Read-WmiValue -Setting $Setting -Spec $spec
            }
            else {
                $properties[$spec.Name] = Read-AdsiValue -Entry $Entry -Spec $spec
            }
        }
        catch {
            if ($_.Exception.Message -like 'MAILRELAY:*') {
                throw
            }
            throw "MAILRELAY:read_failed: $($spec.Name) of $($Entry.psbase.Path): $($_.Exception.Message)"
        }
    }
    $properties
}

function Read-Domains {
    param([int]$Index, $Specs)
    $domains = [Collections.Generic.List[object]]::new()
    $container = [ADSI]('IIS://localhost/SMTPSVC/' + $Index + '/Domain')
    try {
        $children = @($container.psbase.Children)
    }
    catch {
        $children = @()
    }
    foreach ($child in $children) {
        if ($child.psbase.SchemaClassName -ne 'IIsSmtpDomain') {
            continue
        }
        $properties = Read-Properties -Entry $child -Setting $null -Specs $Specs
        $domains.Add(@{ name = [string]$child.psbase.Name; properties = $properties })
    }
    , $domains
}

function Read-State {
    param([string[]]$ServerText, [string[]]$DomainText, [string]$DomainsOf)
    $serverSpecs = ConvertTo-PropertySpec -Text $ServerText
    $domainSpecs = ConvertTo-PropertySpec -Text $DomainText
    foreach ($spec in $domainSpecs) {
        if ($spec.Via -ne 'adsi') {
            throw "MAILRELAY:bad_spec: domain property $($spec.Name) is read through ADSI only"
        }
    }
    $service = Get-SmtpService
    $wmi = @{}
    foreach ($spec in $serverSpecs) {
        if ($spec.Via -eq 'wmi') {
            $wmi = Get-WmiServerSetting
            break
        }
    }
    $servers = [Collections.Generic.List[object]]::new()
    foreach ($child in $service.psbase.Children) {
        if ($child.psbase.SchemaClassName -ne 'IIsSmtpServer') {
            continue
        }
        $index = [int]$child.psbase.Name
        $properties = Read-Properties -Entry $child -Setting $wmi[('SmtpSvc/' + $index)] -Specs $serverSpecs
        $domains = $null
        if ($DomainsOf -eq '*' -or ($DomainsOf -ne '' -and [string]$properties['ServerComment'] -eq $DomainsOf)) {
            $domains = Read-Domains -Index $index -Specs $domainSpecs
        }
        $servers.Add(@{ index = $index; properties = $properties; domains = $domains })
    }
    $status = $null
    $smtpService = Get-Service -Name 'SMTPSVC' -ErrorAction SilentlyContinue
    if ($null -ne $smtpService) {
        $status = [string]$smtpService.Status
    }
    @{ contract = 1; service = @{ status = $status }; servers = $servers }
}
#endregion read-state

$state = Read-State -ServerText $ServerProperties -DomainText $DomainProperties -DomainsOf $DomainsOf
$Ansible.Changed = $false
$Ansible.Result = ConvertTo-Json -InputObject $state -Depth 10 -Compress
